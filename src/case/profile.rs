//! Profiles: which modalities a kind of case has, its classes and regions, and the label conventions
//! on disk (BraTS 2018–21 {0,1,2,4}, BraTS 2023 {0,1,2,3}, MSD brain tumour, prostate {0,1,2}).

use serde::{Deserialize, Serialize};

/// The kinds of case CLoE Studio knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Glioma MRI: FLAIR, T1c, T1, T2; NCR/NET, edema, ET; regions WT, TC, ET.
    Brats,
    /// Prostate MRI: T2, ADC; peripheral and transition zones.
    Prostate,
}

/// A region evaluated and drawn as one: a set of training classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub name: &'static str,
    pub long_name: &'static str,
    /// Training classes that make up the region.
    pub classes: &'static [u8],
    /// Display colour (sRGB).
    pub colour: [u8; 3],
    /// The class a voxel takes when post-processing removes it from the region: the enclosing region's
    /// own class (ET → NCR/NET, TC → edema), background for an outermost region.
    pub removed_to: u8,
}

/// How labels are written on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelConvention {
    /// BraTS 2018–2021: 0 background, 1 NCR/NET, 2 edema, 4 ET.
    Brats2018,
    /// BraTS 2023: 0 background, 1 NCR, 2 edema, 3 ET.
    Brats2023,
    /// MSD Task01: 0 background, 1 edema, 2 non-enhancing tumour, 3 enhancing tumour.
    MsdBrainTumour,
    /// MSD Task05 prostate: 0 background, 1 PZ, 2 TZ.
    Prostate,
}

const BRATS_MODALITIES: [&str; 4] = ["flair", "t1c", "t1", "t2"];
const BRATS_DISPLAY: [&str; 4] = ["FLAIR", "T1c", "T1", "T2"];
const PROSTATE_MODALITIES: [&str; 2] = ["t2", "adc"];
const PROSTATE_DISPLAY: [&str; 2] = ["T2", "ADC"];

const BRATS_REGIONS: [Region; 3] = [
    Region {
        name: "WT",
        long_name: "whole tumour",
        classes: &[1, 2, 3],
        colour: [46, 204, 113],
        removed_to: 0,
    },
    Region {
        name: "TC",
        long_name: "tumour core",
        classes: &[1, 3],
        colour: [241, 196, 15],
        removed_to: 2,
    },
    Region {
        name: "ET",
        long_name: "enhancing tumour",
        classes: &[3],
        colour: [231, 76, 60],
        removed_to: 1,
    },
];
const PROSTATE_REGIONS: [Region; 2] = [
    Region {
        name: "PZ",
        long_name: "peripheral zone",
        classes: &[1],
        colour: [52, 152, 219],
        removed_to: 0,
    },
    Region {
        name: "TZ",
        long_name: "transition zone",
        classes: &[2],
        colour: [230, 126, 34],
        removed_to: 0,
    },
];

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 2] = [Profile::Brats, Profile::Prostate];

    /// The profile's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Brats => "brats",
            Profile::Prostate => "prostate",
        }
    }

    /// Parses `brats` or `prostate`.
    pub fn from_name(name: &str) -> Option<Profile> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Modality keys in model order (`flair t1c t1 t2`, `t2 adc`).
    pub fn modalities(self) -> &'static [&'static str] {
        match self {
            Profile::Brats => &BRATS_MODALITIES,
            Profile::Prostate => &PROSTATE_MODALITIES,
        }
    }

    /// Modality names for display (`FLAIR`, `T1c`, ...).
    pub fn modality_display(self) -> &'static [&'static str] {
        match self {
            Profile::Brats => &BRATS_DISPLAY,
            Profile::Prostate => &PROSTATE_DISPLAY,
        }
    }

    /// Index of a modality key (case-insensitive; accepts `t1ce`, `t1gd` for T1c).
    pub fn modality_index(self, key: &str) -> Option<usize> {
        let key = key.to_ascii_lowercase();
        let key = match key.as_str() {
            "t1ce" | "t1gd" => "t1c",
            "t2w" => "t2",
            other => other,
        };
        self.modalities().iter().position(|m| *m == key)
    }

    /// Training class names, background first.
    pub fn classes(self) -> &'static [&'static str] {
        match self {
            Profile::Brats => &["background", "NCR/NET", "edema", "ET"],
            Profile::Prostate => &["background", "PZ", "TZ"],
        }
    }

    /// Display colour (sRGB) of each training class, background first: BraTS NCR/NET, edema, ET (the
    /// colours of TC, WT and ET); prostate PZ, TZ.
    pub fn class_colours(self) -> &'static [[u8; 3]] {
        match self {
            Profile::Brats => &[[0, 0, 0], [241, 196, 15], [46, 204, 113], [231, 76, 60]],
            Profile::Prostate => &[[0, 0, 0], [52, 152, 219], [230, 126, 34]],
        }
    }

    /// Regions evaluated and shown (WT/TC/ET, PZ/TZ).
    pub fn regions(self) -> &'static [Region] {
        match self {
            Profile::Brats => &BRATS_REGIONS,
            Profile::Prostate => &PROSTATE_REGIONS,
        }
    }

    /// The convention labels are written in when nothing else is known.
    pub fn default_convention(self) -> LabelConvention {
        match self {
            Profile::Brats => LabelConvention::Brats2018,
            Profile::Prostate => LabelConvention::Prostate,
        }
    }

    /// The conventions a label map of this profile may use, most common first.
    pub fn conventions(self) -> &'static [LabelConvention] {
        match self {
            Profile::Brats => &[LabelConvention::Brats2018, LabelConvention::Brats2023],
            Profile::Prostate => &[LabelConvention::Prostate],
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl LabelConvention {
    /// On-disk values, indexed by training class.
    pub fn disk_values(self) -> &'static [u8] {
        match self {
            LabelConvention::Brats2018 => &[0, 1, 2, 4],
            LabelConvention::Brats2023 => &[0, 1, 2, 3],
            // class 1 NCR/NET is 2 on disk, class 2 edema is 1.
            LabelConvention::MsdBrainTumour => &[0, 2, 1, 3],
            LabelConvention::Prostate => &[0, 1, 2],
        }
    }

    /// The training class of an on-disk value, if the value belongs to the convention.
    pub fn class_of(self, disk: u8) -> Option<u8> {
        self.disk_values()
            .iter()
            .position(|&v| v == disk)
            .map(|c| c as u8)
    }

    /// The on-disk value of a training class.
    pub fn disk_of(self, class: u8) -> u8 {
        self.disk_values()[class as usize]
    }

    /// Picks, among `profile`'s conventions, the first that explains every value present.
    /// `Err` carries the values no convention explains.
    pub fn detect(profile: Profile, present: &[u8]) -> Result<LabelConvention, Vec<u8>> {
        profile
            .conventions()
            .iter()
            .copied()
            .find(|c| present.iter().all(|&v| c.class_of(v).is_some()))
            .ok_or_else(|| {
                let base = profile.conventions()[0];
                present
                    .iter()
                    .copied()
                    .filter(|&v| base.class_of(v).is_none())
                    .collect()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brats_conventions_round_trip() {
        for conv in [
            LabelConvention::Brats2018,
            LabelConvention::Brats2023,
            LabelConvention::MsdBrainTumour,
        ] {
            for class in 0..4u8 {
                assert_eq!(conv.class_of(conv.disk_of(class)), Some(class));
            }
        }
        assert_eq!(LabelConvention::Brats2018.class_of(4), Some(3));
        assert_eq!(LabelConvention::Brats2018.class_of(3), None);
        assert_eq!(LabelConvention::Brats2023.disk_of(3), 3);
        assert_eq!(LabelConvention::MsdBrainTumour.class_of(1), Some(2));
    }

    #[test]
    fn detection_prefers_2018_and_rejects_strangers() {
        assert_eq!(
            LabelConvention::detect(Profile::Brats, &[0, 1, 2, 4]),
            Ok(LabelConvention::Brats2018)
        );
        assert_eq!(
            LabelConvention::detect(Profile::Brats, &[0, 2, 3]),
            Ok(LabelConvention::Brats2023)
        );
        assert_eq!(
            LabelConvention::detect(Profile::Brats, &[0, 3, 4, 7]),
            Err(vec![3, 7])
        );
        assert_eq!(
            LabelConvention::detect(Profile::Prostate, &[0, 1, 2]),
            Ok(LabelConvention::Prostate)
        );
        assert_eq!(
            LabelConvention::detect(Profile::Prostate, &[0, 4]),
            Err(vec![4])
        );
    }

    #[test]
    fn regions_are_made_of_classes() {
        let wt = Profile::Brats.regions()[0];
        assert_eq!((wt.name, wt.classes), ("WT", &[1u8, 2, 3][..]));
        assert_eq!(Profile::Brats.modality_index("T1ce"), Some(1));
        assert_eq!(Profile::Prostate.modality_index("ADC"), Some(1));
    }
}
