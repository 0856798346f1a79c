//! The modality subsets in the paper's order (Table 1: T2, T1c, T1, F, pairs, triples as "~missing",
//! Full) and the table of Dice and HD95 per region and subset, averaged over cases, as Markdown and CSV.

use crate::case::Profile;
use std::fmt::Write as _;

/// BraTS subsets in the order of the paper's Table 1, as sets of display names.
const BRATS_ORDER: [&[&str]; 15] = [
    &["T2"],
    &["T1c"],
    &["T1"],
    &["FLAIR"],
    &["T2", "T1c"],
    &["T1c", "T1"],
    &["T1", "FLAIR"],
    &["T2", "T1"],
    &["T2", "FLAIR"],
    &["T1c", "FLAIR"],
    &["FLAIR", "T1c", "T1"],
    &["FLAIR", "T1", "T2"],
    &["FLAIR", "T1c", "T2"],
    &["T1c", "T1", "T2"],
    &["FLAIR", "T1c", "T1", "T2"],
];

/// Every non-empty availability mask of `profile`, in the paper's order for BraTS, else by size.
pub fn subsets(profile: Profile) -> Vec<Vec<bool>> {
    let names = profile.modality_display();
    if profile == Profile::Brats {
        return BRATS_ORDER
            .iter()
            .map(|set| names.iter().map(|n| set.contains(n)).collect())
            .collect();
    }
    let m = names.len();
    let mut all: Vec<Vec<bool>> = (1..1u32 << m)
        .map(|b| (0..m).map(|i| b >> i & 1 == 1).collect())
        .collect();
    all.sort_by_key(|s| s.iter().filter(|&&x| x).count());
    all
}

/// A column title: `T2`, `T2 T1c`, `~T1` (all but one), `Full`.
pub fn subset_label(profile: Profile, mask: &[bool]) -> String {
    let names = profile.modality_display();
    let present: Vec<&str> = names
        .iter()
        .zip(mask)
        .filter(|(_, a)| **a)
        .map(|(n, _)| *n)
        .collect();
    let short = |n: &str| {
        if n == "FLAIR" {
            "F".to_string()
        } else {
            n.to_string()
        }
    };
    if present.len() == names.len() {
        "Full".into()
    } else if present.len() + 1 == names.len() && names.len() > 2 {
        let missing = names
            .iter()
            .zip(mask)
            .find(|(_, a)| !**a)
            .map(|(n, _)| *n)
            .unwrap_or_default();
        format!("~{}", short(missing))
    } else {
        present
            .iter()
            .map(|n| short(n))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Dice and HD95 per case, subset and region.
#[derive(Debug, Clone)]
pub struct SubsetTable {
    pub profile: Profile,
    pub subsets: Vec<Vec<bool>>,
    /// (case, subset index, region index, dice, hd95).
    pub rows: Vec<(String, usize, usize, f64, f64)>,
}

impl SubsetTable {
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            subsets: subsets(profile),
            rows: Vec::new(),
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

    /// The paper's layout: rows regions, one column per subset, then Avg; Dice in %, then HD95 in mm.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let header: Vec<String> = self
            .subsets
            .iter()
            .map(|m| subset_label(self.profile, m))
            .collect();
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
            let label = subset_label(self.profile, &self.subsets[*subset]);
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
    fn paper_order_and_labels() {
        let s = subsets(Profile::Brats);
        assert_eq!(s.len(), 15);
        let labels: Vec<String> = s.iter().map(|m| subset_label(Profile::Brats, m)).collect();
        assert_eq!(labels[..4], ["T2", "T1c", "T1", "F"]);
        assert_eq!(labels[4], "T1c T2");
        assert_eq!(labels[10..], ["~T2", "~T1c", "~T1", "~F", "Full"]);
        let p: Vec<String> = subsets(Profile::Prostate)
            .iter()
            .map(|m| subset_label(Profile::Prostate, m))
            .collect();
        assert_eq!(p, ["T2", "ADC", "Full"]);
    }
}
