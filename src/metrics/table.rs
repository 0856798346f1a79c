//! The table of Dice and HD95 per region and modality subset (in the paper's order, `Subset::every`),
//! averaged over cases, with the gating weights, as Markdown and CSV.

use crate::case::{Profile, Subset};
use std::fmt::Write as _;

/// Dice and HD95 per case, subset and region.
#[derive(Debug, Clone)]
pub struct SubsetTable {
    pub profile: Profile,
    /// The cases evaluated.
    pub cases: Vec<String>,
    pub subsets: Vec<Subset>,
    /// (case, subset index, region index, dice, hd95).
    pub rows: Vec<(String, usize, usize, f64, f64)>,
    /// (case, subset index, the gating weight w of every modality; 0 for missing ones).
    pub gating: Vec<(String, usize, Vec<f64>)>,
    /// (case, subset index, mean REC region map r inside the ground-truth foreground, mean r in the
    /// rest of the imaged body).
    pub region_map: Vec<(String, usize, f64, f64)>,
    /// Cases left out because they could not be read: (case, why).
    pub skipped: Vec<(String, String)>,
}

impl SubsetTable {
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            cases: Vec::new(),
            subsets: Subset::every(profile),
            rows: Vec::new(),
            gating: Vec::new(),
            region_map: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Mean over cases of (dice, hd95) for a subset and region; `None` without values.
    pub fn mean(&self, subset: usize, region: usize) -> Option<(f64, f64)> {
        let v: Vec<_> = self
            .rows
            .iter()
            .filter(|r| r.1 == subset && r.2 == region)
            .collect();
        (!v.is_empty()).then(|| {
            let n = v.len() as f64;
            (
                v.iter().map(|r| r.3).sum::<f64>() / n,
                v.iter().map(|r| r.4).sum::<f64>() / n,
            )
        })
    }

    /// Mean over subsets (of the case means) for one region.
    pub fn average(&self, region: usize) -> Option<(f64, f64)> {
        let v: Vec<(f64, f64)> = (0..self.subsets.len())
            .filter_map(|s| self.mean(s, region))
            .collect();
        (!v.is_empty()).then(|| {
            let n = v.len() as f64;
            (
                v.iter().map(|x| x.0).sum::<f64>() / n,
                v.iter().map(|x| x.1).sum::<f64>() / n,
            )
        })
    }

    /// Mean over cases of modality `m`'s gating weight in `subset`; `None` without values.
    pub fn mean_weight(&self, subset: usize, m: usize) -> Option<f64> {
        let v: Vec<f64> = self
            .gating
            .iter()
            .filter(|g| g.1 == subset)
            .filter_map(|g| g.2.get(m).copied())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }

    /// Mean Dice of `region` over the subsets with (`true`) or without (`false`) modality `m`.
    pub fn dice_with(&self, region: usize, m: usize, with: bool) -> Option<f64> {
        let v: Vec<f64> = (0..self.subsets.len())
            .filter(|&s| self.subsets[s].contains(m) == with)
            .filter_map(|s| self.mean(s, region).map(|x| x.0))
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }

    /// Mean absolute deviation of the gating weights from uniform with every modality, per case.
    pub fn gating_deviation_full(&self) -> Vec<(String, f64)> {
        let full = self.subsets.iter().position(|s| s.len() == s.mask().len());
        self.gating
            .iter()
            .filter(|g| Some(g.1) == full)
            .map(|(case, _, w)| {
                let u = 1.0 / w.len() as f64;
                let mad = w.iter().map(|x| (x - u).abs()).sum::<f64>() / w.len() as f64;
                (case.clone(), mad)
            })
            .collect()
    }

    /// Mean REC region map inside and outside the foreground, over cases and subsets.
    pub fn region_map_means(&self) -> Option<(f64, f64)> {
        let n = self.region_map.len() as f64;
        (n > 0.0).then(|| {
            (
                self.region_map.iter().map(|r| r.2).sum::<f64>() / n,
                self.region_map.iter().map(|r| r.3).sum::<f64>() / n,
            )
        })
    }

    /// The gating weights per subset (rows modalities) and, for BraTS, ET Dice with and without T1c.
    pub fn behaviour_markdown(&self) -> String {
        let mut s = String::new();
        let names = self.profile.modality_display();
        let header: Vec<String> = self.subsets.iter().map(Subset::label).collect();
        let _ = writeln!(
            s,
            "\nGating weight w (mean over cases; – where the modality is missing)\n\n| modality | {} |",
            header.join(" | ")
        );
        let _ = writeln!(s, "|---|{}", "---|".repeat(header.len()));
        for (m, name) in names.iter().enumerate() {
            let cells: Vec<String> = (0..self.subsets.len())
                .map(
                    |i| match (self.subsets[i].contains(m), self.mean_weight(i, m)) {
                        (true, Some(w)) => format!("{w:.3}"),
                        _ => "–".into(),
                    },
                )
                .collect();
            let _ = writeln!(s, "| {name} | {} |", cells.join(" | "));
        }
        let t1c = self.profile.modalities().iter().position(|m| *m == "t1c");
        let et = self.profile.regions().iter().position(|r| r.name == "ET");
        if let (Some(m), Some(r)) = (t1c, et)
            && let (Some(with), Some(without)) =
                (self.dice_with(r, m, true), self.dice_with(r, m, false))
        {
            let _ = writeln!(
                s,
                "\nET Dice, mean over the subsets with T1c: {:.2} %; without T1c: {:.2} %",
                with * 100.0,
                without * 100.0
            );
        }
        let dev = self.gating_deviation_full();
        if !dev.is_empty() {
            let per: Vec<String> = dev.iter().map(|(c, d)| format!("{c} {d:.4}")).collect();
            let mean = dev.iter().map(|d| d.1).sum::<f64>() / dev.len() as f64;
            let _ = writeln!(
                s,
                "\nGating with every modality: mean absolute deviation of w from uniform {mean:.4} \
                 (per case: {})",
                per.join(", ")
            );
        }
        if let Some((inside, outside)) = self.region_map_means() {
            let _ = writeln!(
                s,
                "\nREC region map r: mean {inside:.4} inside the ground-truth foreground, {outside:.4} \
                 in the rest of the imaged body (ratio {:.2})",
                inside / outside.max(1e-12)
            );
        }
        s
    }

    /// The paper's layout: rows regions, one column per subset, then Avg; Dice in %, then HD95 in mm.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        for (case, why) in &self.skipped {
            let _ = writeln!(s, "\nSkipped {case}: {why}");
        }
        let header: Vec<String> = self.subsets.iter().map(Subset::label).collect();
        for (title, pick, scale, digits) in [("Dice (%)", 0, 100.0, 2), ("HD95 (mm)", 1, 1.0, 2)] {
            let _ = writeln!(s, "\n{title}\n\n| region | {} | Avg |", header.join(" | "));
            let _ = writeln!(s, "|---|{}---|", "---|".repeat(header.len()));
            for (r, region) in self.profile.regions().iter().enumerate() {
                let cell = |v: Option<(f64, f64)>| {
                    v.map(|v| format!("{:.*}", digits, if pick == 0 { v.0 } else { v.1 } * scale))
                        .unwrap_or_else(|| "–".into())
                };
                let cells: Vec<String> = (0..self.subsets.len())
                    .map(|i| cell(self.mean(i, r)))
                    .collect();
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    region.name,
                    cells.join(" | "),
                    cell(self.average(r))
                );
            }
        }
        s
    }

    /// One line per case, subset and region: `case,subset,region,dice,hd95`.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("case,subset,region,dice,hd95\n");
        for (case, subset, region, dice, hd) in &self.rows {
            let label = self.subsets[*subset].label();
            let _ = writeln!(
                s,
                "{case},{label},{},{dice:.6},{hd:.4}",
                self.profile.regions()[*region].name
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gating_means_and_et_without_t1c() {
        let mut t = SubsetTable::new(Profile::Brats);
        // Subset 1 is T1c alone, subset 0 T2 alone; region 2 is ET.
        t.rows.push(("a".into(), 1, 2, 0.8, 3.0));
        t.rows.push(("b".into(), 1, 2, 0.6, 5.0));
        t.rows.push(("a".into(), 0, 2, 0.1, 20.0));
        t.gating.push(("a".into(), 4, vec![0.0, 0.25, 0.0, 0.75]));
        t.gating.push(("b".into(), 4, vec![0.0, 0.75, 0.0, 0.25]));
        assert_eq!(t.mean_weight(4, 1), Some(0.5));
        assert_eq!(t.mean_weight(3, 1), None);
        assert!((t.dice_with(2, 1, true).unwrap() - 0.7).abs() < 1e-12);
        assert!((t.dice_with(2, 1, false).unwrap() - 0.1).abs() < 1e-12);
        // Full set (subset 14): |w − 1/4| averages 0.125 and 0 for the two cases.
        t.gating.push(("a".into(), 14, vec![0.5, 0.25, 0.25, 0.0]));
        t.gating.push(("b".into(), 14, vec![0.25; 4]));
        t.region_map.push(("a".into(), 14, 0.6, 0.2));
        t.region_map.push(("b".into(), 14, 0.4, 0.1));
        let md = t.behaviour_markdown();
        assert!(md.contains("| T1c | – | – | – | – | 0.500 |"), "{md}");
        assert!(
            md.contains("deviation of w from uniform 0.0625 (per case: a 0.1250, b 0.0000)"),
            "{md}"
        );
        assert!(
            md.contains("mean 0.5000 inside the ground-truth foreground, 0.1500"),
            "{md}"
        );
        assert!(md.contains("(ratio 3.33)"), "{md}");
        assert!(
            md.contains("with T1c: 70.00 %; without T1c: 10.00 %"),
            "{md}"
        );
    }
}
