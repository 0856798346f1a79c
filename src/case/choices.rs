//! What the user said about a case's files that their names and headers do not: the DICOM series of a
//! modality (`--series t2=6`) and the sequence or volume of a NIfTI file (`--as t1c`, `--as t2@0`).

use super::dicom_study::apply_series_choices;
use super::sequence_choice::apply_sequence_choices;
use super::source::CaseSource;
use crate::error::Result;

/// The choices, as typed (the CLI's flags, the viewer's menus).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseChoices {
    /// `MODALITY=NUMBER`: a DICOM series for a modality.
    pub series: Vec<String>,
    /// `MODALITY[=FILE][@VOLUME]`: what a NIfTI file holds.
    pub sequences: Vec<String>,
}

impl CaseChoices {
    /// Applies them to a case found on disk: the files' sequences first, then the series.
    pub fn apply(&self, source: &mut CaseSource) -> Result<()> {
        apply_sequence_choices(source, &self.sequences)?;
        apply_series_choices(source, &self.series)
    }

    /// True when nothing was chosen.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.sequences.is_empty()
    }
}
