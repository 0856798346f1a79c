//! File-name conventions: what a file of a case holds, read from its name. Covers BraTS 2018–21
//! (`_flair _t1 _t1ce _t2 _seg`), BraTS 2023 (`-t1n -t1c -t2w -t2f -seg`), BraTS-Toolkit
//! (`_fla _t1 _t1c _t2`, also `_bet`), prostate (`_t2w`, `_t2w_series6`, `_adc`) and MSD (`_label`).

use super::profile::Profile;
use crate::io::volume_stem;
use std::path::Path;

/// A modality as named in files, before the case's profile is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Seq {
    Flair,
    T1c,
    T1,
    /// T2, in a brain or in a prostate case.
    T2,
    Adc,
}

/// What a file of a case holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// An image of one sequence.
    Image(Seq),
    /// A ground-truth label map.
    Label,
    /// A known sequence that no profile uses (e.g. prostate high-b DWI); listed, not loaded.
    Unused(&'static str),
}

/// A file name understood: the case's name (the prefix) and the file's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub prefix: String,
    pub role: Role,
    /// Tokens after the role, such as `series10` or `bet`.
    pub qualifier: String,
}

/// Reads a NIfTI file's name; `None` when the name says nothing we know.
pub fn classify(path: &Path) -> Option<Named> {
    let stem = volume_stem(path);
    let tokens: Vec<&str> = stem.split(['_', '-', '.']).collect();
    // Walk back over qualifiers (`bet`, `series10`, `brain`) to the token that names the role.
    let mut end = tokens.len();
    while end > 1 && is_qualifier(tokens[end - 1]) {
        end -= 1;
    }
    let role = role_of(&tokens[end - 1].to_ascii_lowercase())?;
    // The prefix is the stem up to the role token, without its trailing separator.
    let prefix_len: usize = tokens[..end - 1].iter().map(|t| t.len() + 1).sum();
    let prefix = stem[..prefix_len.saturating_sub(1)].to_string();
    Some(Named {
        prefix,
        role,
        qualifier: tokens[end..].join("_"),
    })
}

fn is_qualifier(token: &str) -> bool {
    let t = token.to_ascii_lowercase();
    t == "bet"
        || t == "brain"
        || t == "registered"
        || (t.starts_with("series") && t[6..].chars().all(|c| c.is_ascii_digit()))
}

fn role_of(token: &str) -> Option<Role> {
    Some(match token {
        "flair" | "fla" | "t2f" => Role::Image(Seq::Flair),
        "t1ce" | "t1c" | "t1gd" => Role::Image(Seq::T1c),
        "t1" | "t1n" | "t1w" => Role::Image(Seq::T1),
        "t2" | "t2w" => Role::Image(Seq::T2),
        "adc" => Role::Image(Seq::Adc),
        "hbv" | "dwi" => Role::Unused("high-b DWI"),
        "seg" | "label" | "labels" | "gt" => Role::Label,
        _ => return None,
    })
}

impl Seq {
    /// The profiles that have this sequence.
    pub fn profiles(self) -> Vec<Profile> {
        Profile::with_modality(self.key()).collect()
    }

    /// The sequence's modality key in `profile`.
    pub fn key(self) -> &'static str {
        match self {
            Seq::Flair => "flair",
            Seq::T1c => "t1c",
            Seq::T1 => "t1",
            Seq::T2 => "t2",
            Seq::Adc => "adc",
        }
    }
}

/// Reads a channel name of an MSD `dataset.json` (`FLAIR`, `T1w`, `t1gd`, `T2w`, `T2`, `ADC`).
pub fn seq_of_channel_name(name: &str) -> Option<Seq> {
    match role_of(&name.trim().to_ascii_lowercase())? {
        Role::Image(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str) -> Option<(String, Role, String)> {
        classify(Path::new(name)).map(|n| (n.prefix, n.role, n.qualifier))
    }

    #[test]
    fn every_naming_scheme_in_the_shared_data() {
        use Role::*;
        use Seq::*;
        let s = |x: &str| x.to_string();
        assert_eq!(
            c("Brats18_2013_11_1_t1ce.nii.gz"),
            Some((s("Brats18_2013_11_1"), Image(T1c), s("")))
        );
        assert_eq!(
            c("Brats18_2013_11_1_t1.nii.gz"),
            Some((s("Brats18_2013_11_1"), Image(T1), s("")))
        );
        assert_eq!(
            c("Brats18_2013_11_1_seg.nii.gz"),
            Some((s("Brats18_2013_11_1"), Label, s("")))
        );
        assert_eq!(
            c("BraTS-GLI-00001-000-t2f.nii.gz"),
            Some((s("BraTS-GLI-00001-000"), Image(Flair), s("")))
        );
        assert_eq!(
            c("BraTS-GLI-00001-000-t1n.nii.gz"),
            Some((s("BraTS-GLI-00001-000"), Image(T1), s("")))
        );
        assert_eq!(
            c("TCGA-DU-7294_fla_bet.nii.gz"),
            Some((s("TCGA-DU-7294"), Image(Flair), s("bet")))
        );
        assert_eq!(
            c("TCGA-DU-7294_t1c_bet.nii.gz"),
            Some((s("TCGA-DU-7294"), Image(T1c), s("bet")))
        );
        assert_eq!(
            c("ProstateX-0001_t2w_series10.nii.gz"),
            Some((s("ProstateX-0001"), Image(T2), s("series10")))
        );
        assert_eq!(
            c("ProstateX-0000_adc.nii.gz"),
            Some((s("ProstateX-0000"), Image(Adc), s("")))
        );
        assert_eq!(
            c("ProstateX-0000_hbv.nii.gz"),
            Some((s("ProstateX-0000"), Unused("high-b DWI"), s("")))
        );
        assert_eq!(
            c("prostate_00_label.nii"),
            Some((s("prostate_00"), Label, s("")))
        );
        assert_eq!(c("fusion_simple_model_ensemble.nii.gz"), None);
        assert_eq!(c("notes.txt"), None);
    }
}
