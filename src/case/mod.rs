//! Patient cases: naming schemes, profiles and label conventions, discovery of a case's files (or a
//! dataset's cases, NIfTI or DICOM), and loading them onto one grid.

mod choices;
mod dicom_study;
mod discover;
mod label_files;
mod load;
mod msd;
mod naming;
mod profile;
mod seg_labels;
mod sequence_choice;
mod source;
mod subset;

pub use choices::CaseChoices;
pub use dicom_study::{apply_series_choices, choose_series, series_roles};
pub use discover::{case_from_files, find_case, find_cases, find_labelled_cases, find_nifti_cases};
pub use label_files::read_label_file;
pub use load::{Case, FileReport, LabelCount, LabelMap, load_case};

pub use naming::{Role, Seq, classify};
pub use profile::{Evidence, LabelConvention, Profile, ProfileSpec, Region, SPECS, SegCodes};
pub use seg_labels::{reference_series, seg_classes};
pub use sequence_choice::{
    FileToName, SequenceChoice, apply_sequence_choices, choose_sequence, files_to_name,
    parse_sequence_choice, unnamed_files,
};
pub use source::{CaseSource, ModalitySource, unreadable_cases};
pub use subset::Subset;
