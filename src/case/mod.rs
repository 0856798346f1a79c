//! Patient cases: naming schemes, profiles and label conventions, discovery of a case's files (or a
//! dataset's cases), and loading them onto one grid.

mod discover;
mod load;
mod msd;
mod naming;
mod profile;
mod source;
mod subset;

pub use discover::{case_from_files, find_case, find_cases};
pub use load::{Case, FileReport, LabelCount, LabelMap, load_case, read_label_file};
pub use msd::{MsdLayout, read_layout};
pub use naming::{Named, Role, Seq, classify};
pub use profile::{LabelConvention, Profile, Region};
pub use source::{CaseSource, ModalitySource};
pub use subset::Subset;
