//! The measurements a reader takes away, as the viewer's panel shows them: per region the volume in ml
//! and, against a ground truth, Dice and HD95; each lesion (a connected component of the outermost
//! region, largest first) with its volume, its centroid in patient coordinates (DICOM's LPS, mm) and
//! the axial slice it lies on (1-based, as the viewer numbers slices). Written as JSON and CSV by the
//! viewer's "Export measurements", inside `cloe segment --report`, and per case by batch runs.

use super::LabelMeasures;
use crate::case::Profile;
use crate::render::{Plane, SliceMap};
use crate::volume::Grid;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// One region's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionMeasure {
    pub region: String,
    pub ml: f64,
    /// Against the ground truth, when there is one.
    pub dice: Option<f64>,
    pub hd95_mm: Option<f64>,
}

/// One lesion's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionMeasure {
    /// 1 for the largest.
    pub lesion: usize,
    pub ml: f64,
    /// The centroid in patient coordinates (LPS, mm), as DICOM viewers give positions.
    pub centroid_lps_mm: [f64; 3],
    /// A voxel inside the lesion near its centroid (0-based indices of the case's grid).
    pub voxel: [usize; 3],
    /// The axial slice of that voxel, 1-based as the viewer shows it.
    pub axial_slice: usize,
}

/// The measurements of one label map of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementReport {
    pub case: String,
    pub profile: Profile,
    /// What was measured: "model", "edited", "ground truth", a file name.
    pub labels: String,
    pub regions: Vec<RegionMeasure>,
    pub lesions: Vec<LesionMeasure>,
}

impl MeasurementReport {
    /// The report of `m`, measured on `grid` of case `case`.
    pub fn new(case: &str, profile: Profile, grid: &Grid, labels: &str, m: &LabelMeasures) -> Self {
        let regions = (profile.regions().iter().enumerate())
            .map(|(i, r)| RegionMeasure {
                region: r.name.to_string(),
                ml: m.volumes[i],
                dice: m.dice.as_ref().map(|d| d[i]),
                hd95_mm: m.hd95.as_ref().map(|h| h[i]),
            })
            .collect();
        let axial = SliceMap::new(grid, Plane::Axial);
        let lesions = (m.lesions.iter().enumerate())
            .map(|(i, l)| {
                let [x, y, z] = grid.affine.apply(l.centroid);
                LesionMeasure {
                    lesion: i + 1,
                    ml: l.ml,
                    centroid_lps_mm: [-x, -y, z],
                    voxel: l.centre,
                    axial_slice: axial.pixel(grid.dims, l.centre).2 + 1,
                }
            })
            .collect();
        Self {
            case: case.to_string(),
            profile,
            labels: labels.to_string(),
            regions,
            lesions,
        }
    }

    /// The header of [`MeasurementReport::csv_rows`].
    pub const CSV_HEADER: &'static str = "case,labels,item,ml,dice,hd95_mm,centroid_lps_x_mm,\
        centroid_lps_y_mm,centroid_lps_z_mm,voxel_i,voxel_j,voxel_k,axial_slice";

    /// One row per region, then one per lesion (no header).
    pub fn csv_rows(&self) -> String {
        let mut s = String::new();
        let opt = |v: Option<f64>, d: usize| v.map_or(String::new(), |v| format!("{v:.d$}"));
        let (case, labels) = (csv_field(&self.case), csv_field(&self.labels));
        for r in &self.regions {
            let _ = writeln!(
                s,
                "{case},{labels},{},{:.3},{},{},,,,,,,",
                csv_field(&r.region),
                r.ml,
                opt(r.dice, 4),
                opt(r.hd95_mm, 2)
            );
        }
        for l in &self.lesions {
            let [x, y, z] = l.centroid_lps_mm;
            let [i, j, k] = l.voxel;
            let _ = writeln!(
                s,
                "{case},{labels},lesion {},{:.3},,,{x:.1},{y:.1},{z:.1},{i},{j},{k},{}",
                l.lesion, l.ml, l.axial_slice
            );
        }
        s
    }

    /// The whole CSV file.
    pub fn to_csv(&self) -> String {
        format!("{}\n{}", Self::CSV_HEADER, self.csv_rows())
    }

    /// The volume of region `name`, if the profile has it.
    pub fn region(&self, name: &str) -> Option<&RegionMeasure> {
        self.regions.iter().find(|r| r.region == name)
    }

    /// The summary cells of a table row, for `regions` in order: each region's ml, the lesion count,
    /// each region's Dice, each region's HD95 (empty where not known). `None` gives the empty cells.
    pub fn csv_cells(report: Option<&Self>, regions: &[&str]) -> Vec<String> {
        let region = |n: &&str| report.and_then(|m| m.region(n));
        let opt = |v: Option<f64>, d: usize| v.map_or(String::new(), |v| format!("{v:.d$}"));
        let mut cells: Vec<String> = (regions.iter())
            .map(|n| opt(region(n).map(|x| x.ml), 3))
            .collect();
        cells.push(report.map_or(String::new(), |m| m.lesions.len().to_string()));
        cells.extend(
            regions
                .iter()
                .map(|n| opt(region(n).and_then(|x| x.dice), 4)),
        );
        cells.extend(
            regions
                .iter()
                .map(|n| opt(region(n).and_then(|x| x.hd95_mm), 2)),
        );
        cells
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Affine;
    use crate::metrics::measure_labels;

    #[test]
    fn rows_of_a_small_case_in_patient_coordinates() {
        // 2 mm voxels along x, origin (10, 20, 30) RAS: voxel (i, 0, 0) lies at x = 10 + 2i.
        let grid = Grid::new(
            [6, 1, 2],
            Affine::from_spacing([2.0, 1.0, 1.0], [10.0, 20.0, 30.0]),
        );
        // A 3-voxel ET lesion at i = 0..3 of slice k = 1 and a 1-voxel edema at i = 5, k = 1.
        let mut labels = vec![0u8; 12];
        labels[6..9].copy_from_slice(&[3, 3, 3]);
        labels[11] = 2;
        let m = measure_labels(Profile::Brats, &grid, &labels, Some(&labels));
        let r = MeasurementReport::new("a,b", Profile::Brats, &grid, "model", &m);
        assert_eq!(r.region("WT").unwrap().ml, 0.008);
        assert_eq!(r.region("ET").unwrap().dice, Some(1.0));
        let l = &r.lesions[0];
        assert_eq!(
            (l.lesion, l.ml, l.voxel, l.axial_slice),
            (1, 0.006, [1, 0, 1], 2)
        );
        assert_eq!(l.centroid_lps_mm, [-12.0, -20.0, 31.0]);
        let csv = r.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 3 + 2, "{csv}");
        assert_eq!(lines[1], "\"a,b\",model,WT,0.008,1.0000,0.00,,,,,,,");
        assert_eq!(
            lines[4],
            "\"a,b\",model,lesion 1,0.006,,,-12.0,-20.0,31.0,1,0,1,2"
        );
        let cols = |l: &str| l.replace("\"a,b\"", "x").split(',').count();
        assert_eq!(cols(lines[0]), cols(lines[5]));
        let back: MeasurementReport =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
