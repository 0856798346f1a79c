//! The catalogue of bad files: one of each class of damage a disk, a PACS export or a crashed process can
//! hand the readers, made small in a folder, each with the words its refusal must contain. The CLI test
//! (`tests/it/bad_input.rs`) and the viewer test (`tests/it/viewer_bad_input.rs`) both go through it.

use super::write_f32;
use cloe::geometry::Affine;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One bad input and what its refusal must say (besides its file name).
pub struct BadFile {
    pub what: &'static str,
    pub path: PathBuf,
    pub needles: Vec<&'static str>,
}

/// A valid float32 image 4×3×2 (values 1..=24), uncompressed, changed by `patch`.
pub fn patched_image(path: &Path, patch: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    write_f32(
        path,
        [4, 3, 2],
        Affine::IDENTITY,
        (1..=24).map(|v| v as f32).collect(),
    );
    let mut bytes = std::fs::read(path).unwrap();
    patch(&mut bytes);
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

/// Sets dim[0..8] (i16 at byte 40).
pub fn set_dims(b: &mut [u8], dims: [i16; 8]) {
    for (i, d) in dims.iter().enumerate() {
        b[40 + 2 * i..42 + 2 * i].copy_from_slice(&d.to_le_bytes());
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A header of `dims` (uint8 voxels when `u8`, else float32) in a sparse file as long as the voxels
/// it claims: the file can hold them, so only the memory bound stands between it and the allocation.
fn sparse_claim(path: &Path, dims: [i16; 8], u8_voxels: bool) -> PathBuf {
    let tmp = patched_image(&path.with_file_name("scratch.nii"), |b| set_dims(b, dims));
    let mut b = std::fs::read(&tmp).unwrap();
    std::fs::remove_file(&tmp).unwrap();
    if u8_voxels {
        b[70..72].copy_from_slice(&2i16.to_le_bytes()); // DT_UINT8
        b[72..74].copy_from_slice(&8i16.to_le_bytes());
    }
    let voxels: u64 = dims[1..=dims[0] as usize]
        .iter()
        .map(|&d| d as u64)
        .product();
    let f = std::fs::File::create(path).unwrap();
    (&f).write_all(&b[..352]).unwrap();
    f.set_len(352 + voxels * if u8_voxels { 1 } else { 4 })
        .unwrap();
    path.to_path_buf()
}

/// A gzip stream of a valid small image followed by 100 GiB of zeros (100 gzip members of 1 GiB each,
/// about 100 MB on disk).
fn gzip_bomb(path: &Path) -> PathBuf {
    let image = std::fs::read(patched_image(&path.with_file_name("scratch.nii"), |_| {})).unwrap();
    std::fs::remove_file(path.with_file_name("scratch.nii")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 24];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    let gib = enc.finish().unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(&gzip(&image)).unwrap();
    for _ in 0..100 {
        f.write_all(&gib).unwrap();
    }
    f.flush().unwrap();
    path.to_path_buf()
}

/// Every class of bad file, made in `dir`.
pub fn catalogue(dir: &Path) -> Vec<BadFile> {
    std::fs::create_dir_all(dir).unwrap();
    let p = |name: &str| dir.join(name);
    let good = std::fs::read(patched_image(&p("good-tmp.nii"), |_| {})).unwrap();
    std::fs::remove_file(p("good-tmp.nii")).unwrap();
    let good_gz = gzip(&good);
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(p(name), bytes).unwrap();
        p(name)
    };
    let bad = |what, path, needles: &[&'static str]| BadFile {
        what,
        path,
        needles: needles.to_vec(),
    };
    let mut crc = good_gz.clone();
    let n = crc.len();
    crc[n - 8] ^= 0xFF;
    let mut v = vec![
        bad(
            "gzip cut short",
            write("cut_t1.nii.gz", &good_gz[..good_gz.len() / 2]),
            &["truncated or damaged"],
        ),
        bad(
            "uncompressed file cut short",
            write("short_t1.nii", &good[..400]),
            &["truncated", "promises"],
        ),
        bad(
            "gzip checksum wrong",
            write("crc_t1.nii.gz", &crc),
            &["damaged"],
        ),
        bad(
            "not NIfTI at all",
            write("text_t1.nii", &[b'x'; 400]),
            &["not a NIfTI-1 file"],
        ),
        bad(
            "shorter than a header",
            write("tiny_t1.nii", b"abc"),
            &["shorter than a NIfTI header"],
        ),
        bad(
            "bitpix disagreeing with the datatype",
            patched_image(&p("bitpix_t1.nii"), |b| {
                b[72..74].copy_from_slice(&16i16.to_le_bytes())
            }),
            &["bitpix is 16"],
        ),
        bad(
            "negative dimension",
            patched_image(&p("neg_t1.nii"), |b| {
                b[44..46].copy_from_slice(&(-5i16).to_le_bytes())
            }),
            &["dimension 2 is -5"],
        ),
        bad(
            "dim[0] out of range",
            patched_image(&p("rank_t1.nii"), |b| {
                b[40..42].copy_from_slice(&9i16.to_le_bytes())
            }),
            &["dim[0]", "1 to 7"],
        ),
        bad(
            "singular affine",
            patched_image(&p("flat_t1.nii"), |b| {
                b[252..254].copy_from_slice(&0i16.to_le_bytes()); // qform_code
                b[254..256].copy_from_slice(&2i16.to_le_bytes()); // sform_code
                for i in 0..12 {
                    b[280 + 4 * i..284 + 4 * i].copy_from_slice(&0f32.to_le_bytes());
                }
            }),
            &["singular"],
        ),
        bad(
            "voxels of kilometres",
            patched_image(&p("wide_t1.nii"), |b| {
                b[80..84].copy_from_slice(&1.0e6f32.to_le_bytes()); // pixdim[1]
                b[252..256].copy_from_slice(&[0, 0, 0, 0]); // qform_code, sform_code: pixdim alone
            }),
            &["larger than any MRI scan"],
        ),
        bad(
            "NIfTI-2",
            patched_image(&p("two_t1.nii"), |b| {
                b[0..4].copy_from_slice(&540i32.to_le_bytes())
            }),
            &["NIfTI-2"],
        ),
        bad(
            "header of a .hdr/.img pair",
            patched_image(&p("pair_t1.nii"), |b| b[344..348].copy_from_slice(b"ni1\0")),
            &[".hdr/.img"],
        ),
        bad(
            "2^31 voxels in a file that holds them",
            sparse_claim(&p("big_t1.nii"), [3, 2048, 1024, 1024, 1, 1, 1, 1], true),
            &["refusing to allocate"],
        ),
        bad(
            "4-D of 10,000 volumes",
            sparse_claim(&p("many_t1.nii"), [4, 64, 64, 32, 10000, 1, 1, 1], false),
            &["refusing to allocate"],
        ),
        bad(
            "small gzip claiming gigabytes",
            {
                let mut b = good.clone();
                set_dims(&mut b, [3, 1024, 1024, 256, 1, 1, 1, 1]);
                write("claim_t1.nii.gz", &gzip(&b))
            },
            &["cannot hold"],
        ),
        bad(
            "gzip inflating to 100 GiB past its voxels",
            gzip_bomb(&p("bomb_t1.nii.gz")),
            &["goes on for more than"],
        ),
        bad("missing file", p("missing_t1.nii.gz"), &["cannot read"]),
    ];
    std::fs::create_dir_all(p("no-case")).unwrap();
    std::fs::write(p("no-case/notes.txt"), "not an image").unwrap();
    v.push(bad("folder with no case", p("no-case"), &["no case found"]));
    #[cfg(unix)]
    if std::process::Command::new("mkfifo")
        .arg(p("pipe_t1.nii"))
        .status()
        .is_ok_and(|s| s.success())
    {
        v.push(bad(
            "a pipe named like an image",
            p("pipe_t1.nii"),
            &["not a regular file"],
        ));
    }
    v
}
