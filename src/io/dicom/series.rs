//! One DICOM series into a volume: slices sorted along the normal of ImageOrientationPatient by
//! ImagePositionPatient, the stack checked (one orientation, one size, no repeated position, a regular
//! step: a missing slice is named), the RAS+ affine built from orientation, position, PixelSpacing and the
//! slice step, and the pixels decoded by `dicom-pixeldata` with RescaleSlope/Intercept applied.

use super::scan::{DicomSeries, SliceHeader, read_object};
use crate::error::{CloeError, Result};
use crate::geometry::Affine;
use crate::volume::{AffineSource, Grid, Volume, VolumeInfo};
use dicom_pixeldata::PixelDecoder;
use rayon::prelude::*;

/// Two direction cosines differ when any component differs by more than this (dcm2niix uses 1e-4 too).
const ORIENTATION_TOLERANCE: f64 = 1e-4;

/// A step may differ from the series' median step by this fraction before the stack counts as irregular.
const STEP_TOLERANCE: f64 = 0.05;

/// Reads a series into one volume (x along a row, y down the columns, z along the sorted slices).
pub fn read_series(series: &DicomSeries) -> Result<Volume> {
    let folder = series.folder();
    let bad = |why: String| CloeError::BadDicom {
        path: folder.clone(),
        why: format!("{}: {why}", series.name()),
    };
    let first = series
        .slices
        .first()
        .ok_or_else(|| bad("the series has no files".into()))?;
    check_images(series, first).map_err(&bad)?;
    let (orientation, spacing) = check_geometry(series, first).map_err(&bad)?;

    let row = [orientation[0], orientation[1], orientation[2]];
    let col = [orientation[3], orientation[4], orientation[5]];
    let normal = cross(row, col);
    let mut slices: Vec<(&SliceHeader, [f64; 3], f64)> = series
        .slices
        .iter()
        .map(|s| {
            let p = s.position.expect("checked above");
            (s, p, dot(p, normal))
        })
        .collect();
    slices.sort_by(|a, b| a.2.total_cmp(&b.2));
    check_stack(&slices).map_err(&bad)?;

    let (rows, cols) = (first.rows, first.cols);
    let dims = [cols as usize, rows as usize, slices.len()];
    let grid = Grid::new(dims, series_affine(&slices, first, orientation, spacing));
    grid.check_field_of_view().map_err(&bad)?;

    let planes: Vec<Vec<f32>> = slices
        .par_iter()
        .map(|(s, _, _)| decode(s, rows, cols).map_err(&bad))
        .collect::<Result<_>>()?;
    let data: Vec<f32> = planes.concat();
    let info = VolumeInfo {
        path: Some(folder.clone()),
        datatype: format!(
            "dicom {}{}",
            if first.signed { "int" } else { "uint" },
            first.bits_allocated
        ),
        affine_source: AffineSource::Dicom,
        nan_voxels: 0,
        inf_voxels: 0,
    };
    Ok(Volume::new(grid, data, info))
}

/// Checks that every slice is a single-frame greyscale image of the first slice's size.
fn check_images(series: &DicomSeries, first: &SliceHeader) -> Result<(), String> {
    if !series.is_image() {
        return Err(format!(
            "it holds no image (SOP class {}, modality {}); open an image series",
            series.sop_class, series.modality
        ));
    }
    if let Some(s) = series.slices.iter().find(|s| s.frames > 1) {
        return Err(format!(
            "{} is a multi-frame (enhanced) object with {} frames, which CLoE Studio does not read; \
             convert the study with dcm2niix and open the NIfTI files",
            s.path.display(),
            s.frames
        ));
    }
    if let Some(s) = series.slices.iter().find(|s| s.samples_per_pixel != 1) {
        return Err(format!(
            "{} has {} samples per pixel (a colour image); MRI series are greyscale",
            s.path.display(),
            s.samples_per_pixel
        ));
    }
    let (rows, cols) = (first.rows, first.cols);
    if let Some(s) = series
        .slices
        .iter()
        .find(|s| (s.rows, s.cols) != (rows, cols))
    {
        return Err(format!(
            "slices differ in size: {} is {}x{} but {} is {}x{}",
            first.path.display(),
            cols,
            rows,
            s.path.display(),
            s.cols,
            s.rows
        ));
    }
    Ok(())
}

/// A placed slice's orientation and pixel spacing, or why its place in the patient is unknown.
fn slice_geometry(s: &SliceHeader) -> Result<([f64; 6], [f64; 2]), String> {
    match (s.orientation, s.position, s.pixel_spacing) {
        (Some(o), Some(_), Some(sp)) if sp[0] > 0.0 && sp[1] > 0.0 => Ok((o, sp)),
        _ => Err(format!(
            "{} lacks ImageOrientationPatient, ImagePositionPatient or a positive PixelSpacing, \
             so its place in the patient is unknown",
            s.path.display()
        )),
    }
}

/// Checks that every slice is placed and shares the first slice's orientation and pixel spacing;
/// returns those two.
fn check_geometry(
    series: &DicomSeries,
    first: &SliceHeader,
) -> Result<([f64; 6], [f64; 2]), String> {
    let (orientation, spacing) = slice_geometry(first)?;
    for s in &series.slices {
        let (o, sp) = slice_geometry(s)?;
        if o.iter()
            .zip(&orientation)
            .any(|(a, b)| (a - b).abs() > ORIENTATION_TOLERANCE)
        {
            return Err(format!(
                "slices have different orientations ({} is {} but {} is {}): the series mixes \
                 stacks, as a localizer does; open a series of one orientation",
                first.path.display(),
                fmt_cosines(&orientation),
                s.path.display(),
                fmt_cosines(&o)
            ));
        }
        if (sp[0] - spacing[0]).abs() > 1e-4 || (sp[1] - spacing[1]).abs() > 1e-4 {
            return Err(format!(
                "slices have different pixel spacings ({} and {})",
                first.path.display(),
                s.path.display()
            ));
        }
    }
    Ok((orientation, spacing))
}

/// The RAS+ voxel-to-world affine of the sorted slices from orientation, pixel spacing and slice step.
fn series_affine(
    slices: &[(&SliceHeader, [f64; 3], f64)],
    first: &SliceHeader,
    orientation: [f64; 6],
    spacing: [f64; 2],
) -> Affine {
    let row = [orientation[0], orientation[1], orientation[2]];
    let col = [orientation[3], orientation[4], orientation[5]];
    let normal = cross(row, col);
    // Voxel (i, j, k) sits at position_0 + i·Δcol·row + j·Δrow·col + k·step (LPS); NIfTI's world is RAS.
    let slice_vector = match slices.len() {
        1 => normal.map(|n| n * first.thickness.filter(|t| *t > 0.0).unwrap_or(1.0)),
        n => {
            let (p0, pn) = (slices[0].1, slices[n - 1].1);
            std::array::from_fn(|a| (pn[a] - p0[a]) / (n - 1) as f64)
        }
    };
    let origin = slices[0].1;
    let mut m = Affine::IDENTITY.0;
    for a in 0..3 {
        let flip = if a < 2 { -1.0 } else { 1.0 };
        m[a][0] = flip * row[a] * spacing[1];
        m[a][1] = flip * col[a] * spacing[0];
        m[a][2] = flip * slice_vector[a];
        m[a][3] = flip * origin[a];
    }
    Affine(m)
}

/// Checks the sorted positions: no two slices at one place, a regular step.
fn check_stack(slices: &[(&SliceHeader, [f64; 3], f64)]) -> Result<(), String> {
    if slices.len() < 2 {
        return Ok(());
    }
    let steps: Vec<f64> = slices.windows(2).map(|w| w[1].2 - w[0].2).collect();
    if let Some(i) = steps.iter().position(|&d| d.abs() < 1e-3) {
        return Err(format!(
            "{} and {} are at the same position ({:.2} mm along the slice normal): the series holds \
             repeated acquisitions (echoes, b-values or time points) or a duplicated file; \
             export one volume per series, or split it with dcm2niix",
            slices[i].0.path.display(),
            slices[i + 1].0.path.display(),
            slices[i].2
        ));
    }
    let mut sorted = steps.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if let Some(i) = steps
        .iter()
        .position(|&d| (d - median).abs() > STEP_TOLERANCE * median)
    {
        let missing = (steps[i] / median).round() as i64 - 1;
        let hint = if missing >= 1 {
            format!("{missing} slice(s) missing there")
        } else {
            "the slices are not evenly spaced".to_string()
        };
        return Err(format!(
            "the gap between slice {} ({}) and slice {} ({}) is {:.2} mm where the series' step is \
             {:.2} mm: {hint}; export the complete series again from the PACS",
            i + 1,
            slices[i].0.path.display(),
            i + 2,
            slices[i + 1].0.path.display(),
            steps[i],
            median
        ));
    }
    Ok(())
}

/// The most pixels a byte of a DICOM file can hold (deflate's largest expansion; JPEG and RLE expand
/// less).
const MAX_PIXELS_PER_BYTE: u64 = 1032;

const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// Checks each RLE fragment's 64-byte header (PS3.5 G.5: 1 to 15 segments, offsets inside the
/// fragment, increasing) before dicom-rs reads it: dicom-rs allocates as many offsets as the first
/// four bytes say (up to 4 billion) and indexes past the fragment when they lie.
fn check_rle(obj: &dicom_object::DefaultDicomObject) -> std::result::Result<(), String> {
    let Some(fragments) = obj
        .element(dicom_dictionary_std::tags::PIXEL_DATA)
        .ok()
        .and_then(|e| e.value().fragments())
    else {
        return Ok(());
    };
    for f in fragments {
        if f.len() < 64 {
            return Err(format!(
                "a fragment of {} bytes is shorter than the 64-byte RLE header",
                f.len()
            ));
        }
        let word =
            |i: usize| u32::from_le_bytes([f[4 * i], f[4 * i + 1], f[4 * i + 2], f[4 * i + 3]]);
        let n = word(0);
        if !(1..=15).contains(&n) {
            return Err(format!(
                "the RLE header names {n} segments (1 to 15 are possible)"
            ));
        }
        let offsets: Vec<u32> = (1..=n as usize).map(word).collect();
        if offsets[0] != 64
            || offsets.windows(2).any(|w| w[1] < w[0])
            || offsets.iter().any(|&o| o as usize > f.len())
        {
            return Err(format!(
                "the RLE segment offsets {offsets:?} do not fit a fragment of {} bytes",
                f.len()
            ));
        }
    }
    Ok(())
}

/// Decodes one slice's pixels (rows × columns, a row at a time) with the modality LUT applied.
fn decode(s: &SliceHeader, rows: u32, cols: u32) -> Result<Vec<f32>, String> {
    // Read once; the file may have changed since the scan, so its lengths are checked again before
    // dicom-rs allocates by them.
    let (obj, file_len) =
        read_object(&s.path, false).map_err(|e| format!("{} {e}", s.path.display()))?;
    // The decoder allocates rows × columns before it finds the pixels short: a size no file of this
    // length can hold, even compressed as far as deflate goes, is refused first.
    let pixels = rows as u64 * cols as u64;
    if pixels > file_len as u64 * MAX_PIXELS_PER_BYTE {
        return Err(format!(
            "{} says it is {cols}x{rows} pixels, which its {file_len} bytes cannot hold; the header \
             is damaged",
            s.path.display()
        ));
    }
    if s.transfer_syntax == RLE_LOSSLESS {
        check_rle(&obj).map_err(|e| format!("{} has damaged RLE pixels: {e}", s.path.display()))?;
    }
    // dicom-rs's decoders can panic on damaged compressed pixels (an RLE segment shorter than its
    // header says, found by fuzzing): that is a damaged file, said as such.
    let decoded = crate::panic_capture::contained(|| obj.decode_pixel_data()).map_err(|panic| {
        format!(
            "the pixel decoder failed on {} (transfer syntax {}): {panic}; the compressed pixels \
             are damaged",
            s.path.display(),
            s.transfer_syntax
        )
    })?;
    let pixels = decoded.map_err(|e| {
        format!(
            "cannot decode the pixels of {} (transfer syntax {}): {e}; decompress the study \
             (e.g. `gdcmconv --raw`) or convert it with dcm2niix",
            s.path.display(),
            s.transfer_syntax
        )
    })?;
    // The modality LUT has 2^(Bits Stored) entries: a damaged Bits Stored above Bits Allocated (found
    // by fuzzing: 16 allocated, 24 stored) builds tables of millions for every slice.
    let (stored, allocated) = (pixels.bits_stored(), pixels.bits_allocated());
    if stored == 0 || stored > allocated {
        return Err(format!(
            "{} says {stored} bits of each {allocated}-bit sample are stored; the header is damaged",
            s.path.display()
        ));
    }
    let plane: Vec<f32> = crate::panic_capture::contained(|| pixels.to_vec_frame(0))
        .map_err(|panic| {
            format!(
                "the pixel converter failed on {}: {panic}",
                s.path.display()
            )
        })?
        .map_err(|e| format!("cannot convert the pixels of {}: {e}", s.path.display()))?;
    if plane.len() != rows as usize * cols as usize {
        return Err(format!(
            "{} holds {} pixels where its header says {}x{}",
            s.path.display(),
            plane.len(),
            cols,
            rows
        ));
    }
    Ok(plane)
}

fn fmt_cosines(o: &[f64; 6]) -> String {
    let v: Vec<String> = o.iter().map(|x| format!("{x:.3}")).collect();
    format!("[{}]", v.join(", "))
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
