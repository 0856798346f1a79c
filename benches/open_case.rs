//! Opening a 4-modality BraTS case (4 x .nii.gz, 240x240x155, plus the label map) end to end: discovery,
//! gunzip, header checks, conversion to f32, intensity statistics, label checks. Baseline in the same run:
//! gunzipping the same five files into memory and nothing else. Prints the median of N runs, the ratio to
//! the baseline, and the process's peak resident memory.
//!
//! Second (one warm-up, then the median of N runs): opening the ProstateX-0000 DICOM study (3 series, 57 files; T2 and ADC read, ADC resampled
//! onto T2) against opening the NIfTI conversions of the same series, the baseline of that comparison.
//!
//! Third: the labels of a BraTS-size case (Brats18_2013_11_1's ground truth, 240x240x155, written as a
//! 4-series DICOM study here) saved as a DICOM SEG (3 nested segments) and read back onto the case,
//! against saving and reading them as NIfTI (the baseline), with the two files' sizes.
//!
//! `cargo bench --bench open_case` (reads ../shared/data).

#[path = "../tests/common/dicom_study.rs"]
mod dicom_study;

use cloe::bench::{median, time};
use cloe::case::{find_case, load_case};
use cloe::io::ReadOptions;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

const RUNS: usize = 7;

/// Peak resident set size of this process in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    brats_nifti();
    prostate_dicom();
    brats_seg();
}

fn brats_seg() {
    use cloe::export_prediction::{LabelOrigin, SegSegments, write_labels, write_labels_seg};
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/brats2018/Brats18_2013_11_1");
    let tmp = tempfile::tempdir().unwrap();
    let study =
        dicom_study::write_study(&dicom_study::brats_series(&dir), &tmp.path().join("study"));
    let case = load_case(&find_case(&study, None).unwrap(), ReadOptions::default()).unwrap();
    let truth = find_case(&dir, None)
        .unwrap()
        .label
        .expect("the case's label map");
    let labels = cloe::case::read_label_file(&case, &truth).unwrap();
    let opts = cloe::io::WriteOptions::default().overwriting(true);
    let (nii, seg) = (
        tmp.path().join("labels.nii.gz"),
        tmp.path().join("labels.dcm"),
    );
    let origin = LabelOrigin::Person;
    let write_nii = time(RUNS, || {
        write_labels(&nii, &case, &labels, &opts)
            .map(|_| ())
            .unwrap()
    });
    let mut frames = 0;
    let write_seg = time(RUNS, || {
        frames = write_labels_seg(&seg, &case, &labels, SegSegments::Regions, &origin, &opts)
            .unwrap()
            .frames;
    });
    let read = |f: &Path| assert!(cloe::case::read_label_file(&case, f).unwrap() == labels);
    let (read_nii, read_seg) = (time(RUNS, || read(&nii)), time(RUNS, || read(&seg)));
    let size = |f: &Path| std::fs::metadata(f).unwrap().len() as f64 / 1e6;
    println!(
        "open_case: labels of Brats18_2013_11_1 (240x240x155) as DICOM SEG and as NIfTI, {RUNS} runs"
    );
    println!(
        "  write NIfTI (.nii.gz) {write_nii:.3} s, {:.2} MB",
        size(&nii)
    );
    println!(
        "  write SEG ({frames} frames, 3 nested segments) {write_seg:.3} s, {:.2} MB   ratio {:.2}",
        size(&seg),
        write_seg / write_nii
    );
    println!(
        "  read back: NIfTI {read_nii:.3} s, SEG {read_seg:.3} s   ratio {:.2}",
        read_seg / read_nii
    );
}

fn prostate_dicom() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/prostatex-t2-adc");
    let (nifti, dicom) = (
        data.join("ProstateX-0000"),
        data.join("original_dicom/ProstateX-0000"),
    );
    let open = |dir: &Path| {
        let source = find_case(dir, None).expect("the shared ProstateX study (../shared/data)");
        std::hint::black_box(load_case(&source, ReadOptions::default()).unwrap());
    };
    let base = time(RUNS, || open(&nifti));
    let study = time(RUNS, || open(&dicom));
    let scan = time(RUNS, || {
        std::hint::black_box(find_case(&dicom, None).unwrap());
    });
    println!(
        "open_case: ProstateX-0000, T2 384x384x19 + ADC 84x128x19 resampled onto it, {RUNS} runs"
    );
    println!("  baseline NIfTI files (.nii.gz)  median {base:.3} s");
    println!(
        "  DICOM study (3 series, 57 files) median {study:.3} s   ratio to baseline {:.2}",
        study / base
    );
    println!("  part: finding the study (headers of 57 files, series, rules) {scan:.3} s");
}

fn brats_nifti() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/brats2018/Brats18_2013_11_1");
    let source = find_case(&dir, None).expect("the shared BraTS case (../shared/data)");
    let files = source.input_files();

    let gunzip: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            for f in &files {
                let mut buf = Vec::new();
                flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap())
                    .read_to_end(&mut buf)
                    .unwrap();
                std::hint::black_box(buf);
            }
            t.elapsed().as_secs_f64()
        })
        .collect();
    let rss_after_baseline = peak_rss_mib();

    let open: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let source = find_case(&dir, None).unwrap();
            let case = load_case(&source, ReadOptions::default()).unwrap();
            std::hint::black_box(&case);
            t.elapsed().as_secs_f64()
        })
        .collect();
    // Parts: reading one modality (gunzip + parse + f32), and its intensity statistics.
    let flair = &files[0];
    let read_one: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(cloe::io::read_volume(flair, ReadOptions::default()).unwrap());
            t.elapsed().as_secs_f64()
        })
        .collect();
    let volume = cloe::io::read_volume(flair, ReadOptions::default()).unwrap();
    let stats: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(cloe::stats::IntensityStats::of(&volume.data));
            t.elapsed().as_secs_f64()
        })
        .collect();
    let (g, o) = (median(gunzip), median(open));
    println!(
        "open_case: Brats18_2013_11_1, 4 modalities + label, 240x240x155, {RUNS} runs, {} rayon threads",
        rayon::current_num_threads()
    );
    println!("  baseline gunzip only   median {:.3} s", g);
    println!(
        "  cloe open (load_case)  median {:.3} s   ratio to baseline {:.2}",
        o,
        o / g
    );
    println!(
        "  parts: read_volume of one modality {:.3} s, its intensity statistics {:.3} s",
        median(read_one),
        median(stats)
    );
    if let (Some(base), Some(peak)) = (rss_after_baseline, peak_rss_mib()) {
        println!(
            "  peak RSS after baseline {base:.0} MiB, after open {peak:.0} MiB (f32 case: 5 x 8.9 MB = 45 MB of voxels)"
        );
    }
}
