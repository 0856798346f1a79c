//! A set of a profile's modalities: the ones a case has, the ones a user switched on, the ones a
//! training step draws, a column of the paper's Table 1. One type instead of `Vec<bool>` masks, with the
//! paper's order of the 15 BraTS subsets and its column labels ("T2", "T1c T1", "~F", "Full").

use super::profile::Profile;
use crate::error::{CloeError, Result, Setting};
use serde::{Deserialize, Serialize};

/// BraTS subsets in the order of the paper's Table 1, as sets of display names.
/// Some of a profile's modalities, indexed in the profile's order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subset {
    profile: Profile,
    on: Vec<bool>,
}

impl Subset {
    /// The modalities where `on` is true (one flag per profile modality).
    pub fn from_mask(profile: Profile, on: &[bool]) -> Self {
        assert_eq!(
            on.len(),
            profile.modalities().len(),
            "one flag per modality of the profile"
        );
        Self {
            profile,
            on: on.to_vec(),
        }
    }

    /// Every modality of the profile.
    pub fn all(profile: Profile) -> Self {
        Self::from_mask(profile, &vec![true; profile.modalities().len()])
    }

    /// No modality.
    pub fn none(profile: Profile) -> Self {
        Self::from_mask(profile, &vec![false; profile.modalities().len()])
    }

    /// Parses a comma-separated list of modality keys or names (`flair,t1c`); an empty list or an
    /// unknown name is an error that lists the profile's modalities.
    pub fn parse(profile: Profile, list: &str) -> Result<Self> {
        let mut s = Self::none(profile);
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let i = profile.modality_index(name).ok_or_else(|| {
                CloeError::setting(
                    Setting::Modalities,
                    format!(
                        "{name} is not a {profile} modality (use {})",
                        profile.modalities().join(", ")
                    ),
                )
            })?;
            s.on[i] = true;
        }
        if s.is_empty() {
            return Err(CloeError::setting(
                Setting::Modalities,
                format!(
                    "the list of modalities names none (use {})",
                    profile.modalities().join(", ")
                ),
            ));
        }
        Ok(s)
    }

    /// Every non-empty subset of the profile: the paper's order for BraTS, else by size.
    pub fn every(profile: Profile) -> Vec<Self> {
        let names = profile.modality_display();
        let order = profile.spec().subset_order;
        if !order.is_empty() {
            return order
                .iter()
                .map(|set| {
                    let on: Vec<bool> = names.iter().map(|n| set.contains(n)).collect();
                    Self::from_mask(profile, &on)
                })
                .collect();
        }
        let m = names.len();
        let mut all: Vec<Self> = (1..1u32 << m)
            .map(|b| {
                let on: Vec<bool> = (0..m).map(|i| b >> i & 1 == 1).collect();
                Self::from_mask(profile, &on)
            })
            .collect();
        all.sort_by_key(Self::len);
        all
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// One flag per profile modality.
    pub fn mask(&self) -> &[bool] {
        &self.on
    }

    /// Whether modality `m` (profile index) is in the set.
    pub fn contains(&self, m: usize) -> bool {
        self.on.get(m).copied().unwrap_or(false)
    }

    /// True when every modality of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Subset) -> bool {
        self.on.iter().zip(&other.on).all(|(a, b)| !a || *b)
    }

    /// The modalities in both.
    pub fn intersection(&self, other: &Subset) -> Subset {
        let on: Vec<bool> = self
            .on
            .iter()
            .zip(&other.on)
            .map(|(a, b)| *a && *b)
            .collect();
        Self::from_mask(self.profile, &on)
    }

    /// The same set with modality `m` switched on or off.
    pub fn with(&self, m: usize, on: bool) -> Subset {
        let mut s = self.clone();
        s.on[m] = on;
        s
    }

    /// The sets one switch away within `present`: each modality of `self` switched off (while another
    /// stays on), then each modality of `present` not in `self` switched on. The toggles a reader is
    /// likeliest to make next.
    pub fn one_switch_away(&self, present: &Subset) -> Vec<Subset> {
        let off = (self.indices())
            .filter(|_| self.len() > 1)
            .map(|m| self.with(m, false));
        let on = (present.indices())
            .filter(|&m| !self.contains(m))
            .map(|m| self.with(m, true));
        off.chain(on).collect()
    }

    pub fn len(&self) -> usize {
        self.on.iter().filter(|&&x| x).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Profile indices of the modalities in the set, in profile order.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.on
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .map(|(i, _)| i)
    }

    /// The column title of the paper's tables: `T2`, `T2 T1c`, `~T1` (all but one), `Full`.
    pub fn label(&self) -> String {
        let names = self.profile.modality_display();
        let short = |n: &str| {
            if n == "FLAIR" {
                "F".to_string()
            } else {
                n.to_string()
            }
        };
        if self.len() == names.len() {
            "Full".into()
        } else if self.len() + 1 == names.len() && names.len() > 2 {
            let missing = self.on.iter().position(|on| !on).unwrap_or_default();
            format!("~{}", short(names[missing]))
        } else {
            self.indices()
                .map(|i| short(names[i]))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    /// `0110`-style flags, as the training log writes them.
    pub fn bits(&self) -> String {
        self.on.iter().map(|&b| if b { '1' } else { '0' }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_switch_away_switches_each_modality_once() {
        let all = Subset::all(Profile::Brats);
        let labels = |s: &Subset, present: &Subset| -> Vec<String> {
            s.one_switch_away(present)
                .iter()
                .map(Subset::label)
                .collect()
        };
        // Each of the four off, never all of them.
        assert_eq!(labels(&all, &all), ["~F", "~T1c", "~T1", "~T2"]);
        // From one modality: none off (nothing would be left), each other present one on.
        let t2 = Subset::parse(Profile::Brats, "t2").unwrap();
        assert_eq!(labels(&t2, &all), ["F T2", "T1c T2", "T1 T2"]);
        // Only modalities the case has are switched on.
        let present = Subset::parse(Profile::Brats, "t2, flair").unwrap();
        assert_eq!(labels(&t2, &present), ["F T2"]);
        assert_eq!(labels(&present, &present), ["T2", "F"]);
    }

    #[test]
    fn the_paper_order_labels_and_set_operations() {
        let every = Subset::every(Profile::Brats);
        assert_eq!(every.len(), 15);
        let labels: Vec<String> = every.iter().map(Subset::label).collect();
        assert_eq!(labels[..4], ["T2", "T1c", "T1", "F"]);
        assert_eq!(labels[4], "T1c T2");
        assert_eq!(labels[10..], ["~T2", "~T1c", "~T1", "~F", "Full"]);
        let f_t1c = Subset::parse(Profile::Brats, "flair, t1c").unwrap();
        assert_eq!(f_t1c.label(), "F T1c");
        assert!(f_t1c.is_subset_of(&Subset::all(Profile::Brats)));
        assert!(!Subset::all(Profile::Brats).is_subset_of(&f_t1c));
        assert_eq!(f_t1c.intersection(&every[1]), every[1]);
        assert_eq!(f_t1c.with(0, false).label(), "T1c");
        assert!(Subset::parse(Profile::Brats, "dwi").is_err());
        assert!(Subset::parse(Profile::Brats, " , ").is_err());
        let prostate = Subset::every(Profile::Prostate);
        assert_eq!(
            prostate.iter().map(Subset::label).collect::<Vec<_>>(),
            ["T2", "ADC", "Full"]
        );
    }
}
