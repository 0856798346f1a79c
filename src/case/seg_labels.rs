//! A DICOM Segmentation object (SEG) as a case's labels: its frames placed on the grid of the series
//! the case is on (same frame of reference, same rows and columns, every frame on one of its slices),
//! and its segments read as the profile's classes (by label, region name or coded type, else by
//! segment number in the case's label convention). Nested region segments (WT ⊃ TC ⊃ ET) give each voxel
//! the class that is in exactly its regions; class segments must not overlap.

use super::load::Case;
use super::profile::Profile;
use crate::error::{CloeError, Result};
use crate::io::dicom::{DicomSeries, SegObject, SegSegment};

/// What a segment stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Class(u8),
    Region(usize),
}

/// The series whose grid `case` is on (the profile's reference modality when the case has it, else its
/// first modality, as loading chooses the grid), when the case comes from a DICOM study.
pub fn reference_series(case: &Case) -> Result<&DicomSeries> {
    let needs_study = || {
        CloeError::Refused(format!(
            "case {} was not opened from a DICOM study: a DICOM SEG refers to the study's series; \
             save or load the labels as NIfTI instead",
            case.id
        ))
    };
    if case.source.dicom.is_empty() {
        return Err(needs_study());
    }
    let profile = case.profile;
    let preferred = (profile.spec().reference).and_then(|k| profile.modality_index(k));
    let present = (0..profile.modalities().len()).find(|&i| case.modalities[i].is_some());
    let i = (preferred.filter(|&i| case.modalities[i].is_some()))
        .or(present)
        .ok_or_else(needs_study)?;
    let series = case.source.series_of(i).ok_or_else(needs_study)?;
    let first = series.slices.first().ok_or_else(needs_study)?;
    let dims = [
        first.cols as usize,
        first.rows as usize,
        series.slices.len(),
    ];
    if dims != case.grid.dims {
        return Err(CloeError::Refused(format!(
            "case {} is on a {:?} grid but its {} is {dims:?}: a SEG lies on the grid of the \
             series it refers to",
            case.id,
            case.grid.dims,
            series.name()
        )));
    }
    Ok(series)
}

/// The training classes of `seg` on `case`'s grid.
pub fn seg_classes(case: &Case, seg: &SegObject) -> Result<Vec<u8>> {
    let refuse = |why: String| CloeError::BadDicom {
        path: seg.path.clone(),
        why,
    };
    let series = reference_series(case)?;
    check_same_space(case, series, seg).map_err(refuse)?;
    // A name both a class and a region have (BraTS's ET) is a region when another segment is a
    // region only (WT, TC): the SEG holds nested regions.
    let regions_only = (seg.segments.iter()).any(|s| matches!(named(case, s), (None, Some(_))));
    let meanings: Vec<(u16, Meaning)> = (seg.segments.iter())
        .map(|s| {
            let m = meaning(case, s, regions_only).ok_or_else(|| refuse(unknown(case, s)))?;
            Ok((s.number, m))
        })
        .collect::<Result<_>>()?;
    let n = case.grid.len();
    let (plane, depth) = (seg.rows * seg.cols, case.grid.dims[2]);
    let regions = case.profile.regions().len();
    // Per voxel: the class of a class segment, and the regions it is in (one bit each).
    let mut classes = vec![0u8; n];
    let mut in_regions = vec![0u32; n];
    for f in &seg.frames {
        let k = slice_of(case, f.position).ok_or_else(|| {
            refuse(format!(
                "a frame at {:?} mm lies on no slice of the case's grid ({depth} slices)",
                f.position
            ))
        })?;
        let meaning = (meanings.iter().find(|(number, _)| *number == f.segment))
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                refuse(format!(
                    "a frame refers to segment {}, which is not described",
                    f.segment
                ))
            })?;
        for (p, _) in f.mask.iter().enumerate().filter(|(_, v)| **v) {
            let i = k * plane + p;
            match meaning {
                Meaning::Class(c) if classes[i] != 0 && classes[i] != c => {
                    return Err(refuse(
                        "its segments overlap where they stand for classes that exclude each other"
                            .into(),
                    ));
                }
                Meaning::Class(c) => classes[i] = c,
                Meaning::Region(r) => in_regions[i] |= 1 << r,
            }
        }
    }
    if in_regions.iter().any(|&m| m != 0) {
        let table = region_table(case.profile, regions);
        for (c, m) in classes
            .iter_mut()
            .zip(&in_regions)
            .filter(|(_, m)| **m != 0)
        {
            *c = table[*m as usize];
        }
    }
    Ok(classes)
}

/// The class (1-based) and region a segment's label names.
fn named(case: &Case, s: &SegSegment) -> (Option<u8>, Option<usize>) {
    let spec = case.profile.spec();
    let is = |n: &str| !s.label.is_empty() && n.eq_ignore_ascii_case(&s.label);
    let class = (spec.classes.iter().skip(1)).position(|n| is(n));
    let region = (spec.regions.iter()).position(|r| is(r.name) || is(r.long_name));
    (class.map(|c| c as u8 + 1), region)
}

/// What a segment stands for: a class or region of its name (a region first when the SEG holds
/// nested regions), a class coded as its type, or the class of its number in the case's label
/// convention.
fn meaning(case: &Case, s: &SegSegment, regions: bool) -> Option<Meaning> {
    let spec = case.profile.spec();
    let typed_class =
        (spec.class_codes.iter()).position(|c| c.kind.meaning.eq_ignore_ascii_case(&s.kind));
    let by_label = match named(case, s) {
        (_, Some(r)) if regions => Some(Meaning::Region(r)),
        (Some(c), _) => Some(Meaning::Class(c)),
        (None, Some(r)) => Some(Meaning::Region(r)),
        (None, None) => None,
    };
    by_label
        .or_else(|| {
            typed_class
                .filter(|_| !s.kind.is_empty())
                .map(|c| Meaning::Class(c as u8 + 1))
        })
        .or_else(|| {
            let c = case.convention().class_of(u8::try_from(s.number).ok()?)?;
            (c > 0).then_some(Meaning::Class(c))
        })
}

fn unknown(case: &Case, s: &SegSegment) -> String {
    format!(
        "segment {} ('{}') is none of the {} classes ({}) or regions, and its number is no label \
         value of the case",
        s.number,
        s.label,
        case.profile,
        case.profile.classes()[1..].join(", ")
    )
}

/// The class of each set of regions (bit r for region r): the classes in every region of the set and
/// in none outside it, the first of them; else the first class of all the set's regions.
fn region_table(profile: Profile, regions: usize) -> Vec<u8> {
    let all = profile.regions();
    let k = profile.classes().len() as u8;
    (0..1u32 << regions)
        .map(|m| {
            let inside = |c: &u8, r: usize| all[r].classes.contains(c);
            let member = |c: &u8| {
                (0..regions)
                    .filter(|r| m >> r & 1 == 1)
                    .all(|r| inside(c, r))
            };
            let outside = |c: &u8| {
                (0..regions)
                    .filter(|r| m >> r & 1 == 0)
                    .any(|r| inside(c, r))
            };
            let classes: Vec<u8> = (1..k).filter(member).collect();
            (classes.iter().find(|c| !outside(c)).or(classes.first()))
                .copied()
                .unwrap_or(0)
        })
        .collect()
}

/// Same frame of reference, rows, columns and orientation as the series the case is on.
fn check_same_space(
    case: &Case,
    series: &DicomSeries,
    seg: &SegObject,
) -> std::result::Result<(), String> {
    if !series.frame_of_reference.is_empty() && seg.frame_of_reference != series.frame_of_reference
    {
        return Err(format!(
            "its frame of reference ({}) is not the case's ({}): it was made on another scan",
            seg.frame_of_reference, series.frame_of_reference
        ));
    }
    let dims = case.grid.dims;
    if [seg.cols, seg.rows] != [dims[0], dims[1]] {
        return Err(format!(
            "its frames are {}×{} pixels but the case's slices are {}×{}: it was made on another grid",
            seg.cols, seg.rows, dims[0], dims[1]
        ));
    }
    let theirs = series.slices.first().and_then(|s| s.orientation);
    if let (Some(a), Some(b)) = (seg.orientation, theirs)
        && (0..6).any(|i| (a[i] - b[i]).abs() > 1e-3)
    {
        return Err("its frames are oriented unlike the case's slices".into());
    }
    Ok(())
}

/// The slice of the case's grid a frame at `position` (LPS mm, its first pixel) lies on.
fn slice_of(case: &Case, position: [f64; 3]) -> Option<usize> {
    let ras = [-position[0], -position[1], position[2]];
    let v = case.grid.affine.inverse()?.apply(ras);
    let k = v[2].round();
    let on_grid = v[0].abs() < 0.05 && v[1].abs() < 0.05 && (v[2] - k).abs() < 0.05;
    (on_grid && k >= 0.0 && (k as usize) < case.grid.dims[2]).then_some(k as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_regions_give_the_innermost_class() {
        // BraTS regions WT {1,2,3}, TC {1,3}, ET {3}: bits 0, 1, 2.
        let t = region_table(Profile::Brats, 3);
        assert_eq!(t[0b001], 2, "WT alone: edema");
        assert_eq!(t[0b011], 1, "WT and TC: NCR/NET");
        assert_eq!(t[0b111], 3, "all three: ET");
        assert_eq!(t[0b100], 3, "ET alone (inconsistent nesting): still ET");
        let prostate = region_table(Profile::Prostate, 2);
        assert_eq!((prostate[0b01], prostate[0b10]), (1, 2));
    }
}
