//! Profiles: which modalities a kind of case has, its classes and regions, and the label conventions
//! on disk (BraTS 2018–21 {0,1,2,4}, BraTS 2023 {0,1,2,3}, MSD brain tumour, prostate {0,1,2}).

use crate::io::dicom::Code;
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
    /// What the region is, as a DICOM segmentation codes it: property category and type.
    pub codes: SegCodes,
}

/// A segment's coded property category and type (SNOMED CT), as DICOM SEG writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegCodes {
    pub category: Code,
    pub kind: Code,
}

const ABNORMAL: Code = Code::new("49755003", "SCT", "Morphologically Abnormal Structure");
const ANATOMY: Code = Code::new("91723000", "SCT", "Anatomical Structure");
const LESION: Code = Code::new("52988006", "SCT", "Lesion");
const NEOPLASM: Code = Code::new("108369006", "SCT", "Neoplasm");
const NECROSIS: Code = Code::new("6574001", "SCT", "Necrosis");
const EDEMA: Code = Code::new("79654002", "SCT", "Edema");
const PZ: Code = Code::new("279706003", "SCT", "Peripheral zone of the prostate");
const TZ: Code = Code::new("399384005", "SCT", "Transition zone of the prostate");

const fn codes(category: Code, kind: Code) -> SegCodes {
    SegCodes { category, kind }
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

/// Everything that makes a profile, in one place: a new profile is its variant in [`Profile`], one
/// entry of [`SPECS`] and a model folder. Its sequences must be among those the readers name
/// (`naming::Seq`); which profile a case is, the label conventions it reads, the grid it is put on and
/// the order of its subset tables all follow from the entry.
pub struct ProfileSpec {
    /// The name on the command line and in model configs.
    pub name: &'static str,
    /// Modality keys in model order, and their display names.
    pub modalities: &'static [&'static str],
    pub display: &'static [&'static str],
    /// Training class names (background first), their display colours (sRGB), and the codes of the
    /// classes after background as DICOM SEG writes them.
    pub classes: &'static [&'static str],
    pub class_colours: &'static [[u8; 3]],
    pub class_codes: &'static [SegCodes],
    /// The regions evaluated and shown.
    pub regions: &'static [Region],
    /// The label conventions a label map may use, most common first (the first is the default).
    pub conventions: &'static [LabelConvention],
    /// The modality whose grid a case is put on when it has it (prostate: T2, whose in-plane
    /// resolution the ADC lacks); None: the first modality present.
    pub reference: Option<&'static str>,
    /// What else says a case is of this profile: the kinds of file it holds but does not use, the
    /// DICOM body parts examined.
    pub unused_kinds: &'static [&'static str],
    pub body_parts: &'static [&'static str],
    /// The modality subsets (display names) in the order of the profile's paper table; empty: by size.
    pub subset_order: &'static [&'static [&'static str]],
}

/// The profiles, in the order of [`Profile`]'s variants.
pub static SPECS: [ProfileSpec; 2] = [
    ProfileSpec {
        name: "brats",
        modalities: &["flair", "t1c", "t1", "t2"],
        display: &["FLAIR", "T1c", "T1", "T2"],
        classes: &["background", "NCR/NET", "edema", "ET"],
        class_colours: &[[0, 0, 0], [241, 196, 15], [46, 204, 113], [231, 76, 60]],
        class_codes: &[
            codes(ABNORMAL, NECROSIS),
            codes(ABNORMAL, EDEMA),
            codes(ABNORMAL, NEOPLASM),
        ],
        regions: &[
            Region {
                name: "WT",
                codes: codes(ABNORMAL, LESION),
                long_name: "whole tumour",
                classes: &[1, 2, 3],
                colour: [46, 204, 113],
                removed_to: 0,
            },
            Region {
                name: "TC",
                codes: codes(ABNORMAL, NEOPLASM),
                long_name: "tumour core",
                classes: &[1, 3],
                colour: [241, 196, 15],
                removed_to: 2,
            },
            Region {
                name: "ET",
                codes: codes(ABNORMAL, NEOPLASM),
                long_name: "enhancing tumour",
                classes: &[3],
                colour: [231, 76, 60],
                removed_to: 1,
            },
        ],
        conventions: &[LabelConvention::Brats2018, LabelConvention::Brats2023],
        reference: None,
        unused_kinds: &[],
        body_parts: &["BRAIN", "HEAD"],
        // The paper's Table 1.
        subset_order: &[
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
        ],
    },
    ProfileSpec {
        name: "prostate",
        modalities: &["t2", "adc"],
        display: &["T2", "ADC"],
        classes: &["background", "PZ", "TZ"],
        class_colours: &[[0, 0, 0], [52, 152, 219], [230, 126, 34]],
        class_codes: &[codes(ANATOMY, PZ), codes(ANATOMY, TZ)],
        regions: &[
            Region {
                name: "PZ",
                codes: codes(ANATOMY, PZ),
                long_name: "peripheral zone",
                classes: &[1],
                colour: [52, 152, 219],
                removed_to: 0,
            },
            Region {
                name: "TZ",
                codes: codes(ANATOMY, TZ),
                long_name: "transition zone",
                classes: &[2],
                colour: [230, 126, 34],
                removed_to: 0,
            },
        ],
        conventions: &[LabelConvention::Prostate],
        reference: Some("t2"),
        unused_kinds: &["high-b DWI", "a diffusion-weighted (b-value) image"],
        body_parts: &["PROSTATE", "PELVIS"],
        subset_order: &[],
    },
];

/// What a case's files say about which profile it is.
#[derive(Debug, Default)]
pub struct Evidence<'a> {
    /// Modality keys of the images found (`flair`, `t2`, `adc`, …).
    pub sequences: Vec<&'a str>,
    /// The kinds of the files found but not used (`high-b DWI`, …).
    pub unused: Vec<&'a str>,
    /// DICOM BodyPartExamined values.
    pub body_parts: Vec<&'a str>,
    /// The case's paths (its folder, its files).
    pub paths: Vec<String>,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 2] = [Profile::Brats, Profile::Prostate];

    /// The profile assumed when nothing about a case says which it is (the case then says so).
    pub const DEFAULT: Profile = Profile::Brats;

    /// The profile's entry of [`SPECS`].
    pub fn spec(self) -> &'static ProfileSpec {
        &SPECS[self as usize]
    }

    /// The profile's name on the command line.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Parses `brats` or `prostate`.
    pub fn from_name(name: &str) -> Option<Profile> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Modality keys in model order (`flair t1c t1 t2`, `t2 adc`).
    pub fn modalities(self) -> &'static [&'static str] {
        self.spec().modalities
    }

    /// Modality names for display (`FLAIR`, `T1c`, ...).
    pub fn modality_display(self) -> &'static [&'static str] {
        self.spec().display
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
        self.spec().classes
    }

    /// Display colour (sRGB) of each training class, background first: BraTS NCR/NET, edema, ET (the
    /// colours of TC, WT and ET); prostate PZ, TZ.
    pub fn class_colours(self) -> &'static [[u8; 3]] {
        self.spec().class_colours
    }

    /// Regions evaluated and shown (WT/TC/ET, PZ/TZ).
    pub fn regions(self) -> &'static [Region] {
        self.spec().regions
    }

    /// The convention labels are written in when nothing else is known.
    pub fn default_convention(self) -> LabelConvention {
        self.spec().conventions[0]
    }

    /// The conventions a label map of this profile may use, most common first.
    pub fn conventions(self) -> &'static [LabelConvention] {
        self.spec().conventions
    }

    /// The profiles that have the modality `key`.
    pub fn with_modality(key: &str) -> impl Iterator<Item = Profile> + '_ {
        Self::ALL
            .into_iter()
            .filter(move |p| p.modality_index(key).is_some())
    }

    /// The profile the evidence points to: the first whose own evidence is there (a sequence no other
    /// profile has, a kind of unused file or a body part of its own), else the first whose name a
    /// path holds; None when nothing says.
    pub fn decide(e: &Evidence) -> Option<Profile> {
        let own = |p: Profile| {
            let s = p.spec();
            let only_here = |k: &&str| Self::with_modality(k).eq([p]);
            let body = |b: &&str| s.body_parts.iter().any(|x| x.eq_ignore_ascii_case(b));
            e.sequences.iter().any(only_here)
                || e.unused.iter().any(|u| s.unused_kinds.contains(u))
                || e.body_parts.iter().any(body)
        };
        let named =
            |p: Profile| (e.paths.iter()).any(|path| path.to_ascii_lowercase().contains(p.name()));
        (Self::ALL.into_iter().find(|&p| own(p)))
            .or_else(|| Self::ALL.into_iter().find(|&p| named(p)))
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
    fn the_table_is_consistent() {
        for p in Profile::ALL {
            let s = p.spec();
            assert_eq!(s.modalities.len(), s.display.len(), "{p}");
            assert_eq!(s.classes.len(), s.class_colours.len(), "{p}");
            assert_eq!(s.classes.len(), s.class_codes.len() + 1, "{p}");
            assert!((s.conventions.iter()).all(|c| c.disk_values().len() == s.classes.len()));
            assert!(s.reference.is_none_or(|r| p.modality_index(r).is_some()));
            assert!((s.subset_order.iter().flat_map(|o| o.iter())).all(|n| s.display.contains(n)));
            assert_eq!(Profile::from_name(s.name), Some(p));
        }
    }

    #[test]
    fn the_evidence_decides() {
        let decide =
            |seq: &[&'static str], unused: &[&'static str], body: &[&'static str], path: &str| {
                Profile::decide(&Evidence {
                    sequences: seq.to_vec(),
                    unused: unused.to_vec(),
                    body_parts: body.to_vec(),
                    paths: vec![path.to_string()],
                })
            };
        assert_eq!(
            decide(&["t2", "adc"], &[], &[], "/x"),
            Some(Profile::Prostate)
        );
        assert_eq!(
            decide(&["t2", "flair"], &[], &[], "/x"),
            Some(Profile::Brats)
        );
        assert_eq!(
            decide(&["t2"], &["high-b DWI"], &[], "/x"),
            Some(Profile::Prostate)
        );
        assert_eq!(
            decide(&["t2"], &[], &["PELVIS"], "/x"),
            Some(Profile::Prostate)
        );
        assert_eq!(decide(&["t2"], &[], &["head"], "/x"), Some(Profile::Brats));
        assert_eq!(
            decide(&["t2"], &[], &[], "/d/ProstateX-0001"),
            Some(Profile::Prostate)
        );
        assert_eq!(decide(&["t2"], &[], &[], "/d/case"), None);
    }

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
