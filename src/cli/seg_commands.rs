//! `cloe export-seg`: a saved label file (NIfTI, or another SEG) written as a DICOM Segmentation
//! object against the DICOM study it was made on, as the viewer's "Save labels as DICOM SEG" does.

use super::outln;
use crate::case::{find_case, load_case, read_label_file};
use crate::error::Result;
use crate::export_prediction::{LabelOrigin, SegSegments, write_labels_seg};
use crate::io::{ReadOptions, WriteOptions};
use std::path::PathBuf;

/// `--seg-segments` / `--segments` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SegmentsArg {
    /// The profile's nested regions (WT ⊃ TC ⊃ ET; PZ, TZ).
    Regions,
    /// The disjoint training classes (NCR/NET, edema, ET; PZ, TZ).
    Classes,
}

impl From<SegmentsArg> for SegSegments {
    fn from(a: SegmentsArg) -> Self {
        match a {
            SegmentsArg::Regions => SegSegments::Regions,
            SegmentsArg::Classes => SegSegments::Classes,
        }
    }
}

/// Who made the labels of `export-seg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MadeBy {
    /// A model's output as it came (SegmentAlgorithmType AUTOMATIC; give --model).
    Model,
    /// A model's output a person edited (SEMIAUTOMATIC; give --model).
    Edited,
    /// Drawn by a person (MANUAL).
    Person,
}

/// Arguments of `cloe export-seg`.
#[derive(Debug, clap::Args)]
pub struct ExportSegArgs {
    /// The DICOM study the labels were made on (a folder).
    pub study: PathBuf,
    /// The label file: a NIfTI label map on the study's grid (any grid overlapping it is resampled),
    /// or a DICOM SEG.
    #[arg(long)]
    pub labels: PathBuf,
    /// The SEG file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The segments: the nested regions or the disjoint classes.
    #[arg(long, value_enum, default_value = "regions")]
    pub segments: SegmentsArg,
    /// Who made the labels.
    #[arg(long, value_enum, default_value = "person")]
    pub made_by: MadeBy,
    /// The model folder whose output the labels are (with --made-by model or edited).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub choices: super::case_choice::CaseChoiceArgs,
    /// Replace an existing output file (inputs are never replaced).
    #[arg(long)]
    pub force: bool,
}

/// `cloe export-seg`.
pub fn run_export_seg(a: ExportSegArgs) -> Result<()> {
    let mut source = find_case(&a.study, None)?;
    crate::case::CaseChoices::from(a.choices.clone()).apply(&mut source)?;
    let mut protected = source.input_files();
    protected.push(a.labels.clone());
    let opts = WriteOptions::protecting(protected).overwriting(a.force);
    crate::io::check_target(&a.out, &opts)?;
    let case = load_case(&source, ReadOptions::default())?;
    crate::case::reference_series(&case)?;
    let classes = read_label_file(&case, &a.labels)?;
    let name = || {
        (a.model.as_deref())
            .map(crate::model::model_name)
            .unwrap_or_else(|| "CLoE".into())
    };
    let origin = match a.made_by {
        MadeBy::Model => LabelOrigin::Model { name: name() },
        MadeBy::Edited => LabelOrigin::EditedModel { name: name() },
        MadeBy::Person => LabelOrigin::Person,
    };
    let written = write_labels_seg(&a.out, &case, &classes, a.segments.into(), &origin, &opts)?;
    outln!(
        "wrote {} ({} frames, series {})",
        a.out.display(),
        written.frames,
        written.series_uid
    )
}
