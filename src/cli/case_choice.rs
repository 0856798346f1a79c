//! The flags that say what a case's files hold where their names and headers do not: `--series` for a
//! DICOM study, `--as` for a NIfTI file whose name says no sequence or that holds several volumes.
//! Every command that opens one case takes them.

use crate::case::CaseChoices;

/// `--series` and `--as`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CaseChoiceArgs {
    /// For a DICOM study: the series to use for a modality, by series number (repeatable),
    /// e.g. `--series t2=6`.
    #[arg(long, value_name = "MODALITY=NUMBER")]
    pub series: Vec<String>,
    /// What a file holds where its name does not say (repeatable): `--as t1c` for the case's only
    /// such file, `--as t1c=FILE` to name one, `@VOLUME` for one volume of a 4-D file (`--as t2@0`).
    #[arg(long = "as", value_name = "MODALITY[=FILE][@VOLUME]")]
    pub sequences: Vec<String>,
}

impl From<CaseChoiceArgs> for CaseChoices {
    fn from(a: CaseChoiceArgs) -> Self {
        CaseChoices {
            series: a.series,
            sequences: a.sequences,
        }
    }
}
