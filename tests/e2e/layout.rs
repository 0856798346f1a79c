//! Where things are in the app's default window (1280 × 860 logical points at scale 1, the size
//! `cloe view` opens with): the three views of the central panel, and the controls the suite presses.
//! The side panels have fixed default widths (260 and 280) and the controls are laid out top-down, so
//! a control's place depends only on what is shown above it; each constant says in which state it holds.
//! When the layout changes on purpose, update these from a screenshot of the failed step
//! (`target/tmp/e2e/<test>/`).

use crate::x11::Rect;

/// The axial view (top left of the 2 × 2 grid).
pub const AXIAL: Rect = Rect(310, 36, 644, 436);
/// The coronal view (top right).
pub const CORONAL: Rect = Rect(657, 36, 991, 436);
/// The sagittal view (bottom left).
pub const SAGITTAL: Rect = Rect(310, 446, 644, 846);
/// The plane's title ("Axial 102/135") at the top left of the axial view.
pub const AXIAL_TITLE: Rect = Rect(310, 36, 420, 54);
/// A place where the pointer changes nothing (the readout under the coronal view).
pub const NEUTRAL: (u32, u32) = (900, 700);

/// Top bar: the Training page button and the case path field.
pub const TRAINING_PAGE: (u32, u32) = (103, 12);
pub const CASE_FIELD: (u32, u32) = (400, 12);
/// The case's name at the top of the left panel.
pub const CASE_TITLE: Rect = Rect(4, 28, 270, 48);

/// Right panel: the "Modalities used" check boxes (FLAIR, T1c, T1, T2) and the gating chart.
pub fn modality_used(i: u32) -> (u32, u32) {
    (1017, 129 + 23 * i)
}
pub const GATING_CHART: Rect = Rect(1025, 238, 1272, 340);

/// Left panel with a model's segmentation shown and no autosave offer: the Paint toggle.
pub const PAINT: (u32, u32) = (31, 550);
/// "Restore them" of the autosave offer under "Edit labels" when a case is reopened.
pub const RESTORE: (u32, u32) = (56, 583);
/// The eraser check box beside Paint.
pub const ERASE: (u32, u32) = (69, 550);
/// The Refine toggle beside the eraser.
pub const REFINE: (u32, u32) = (145, 550);
/// Export field and "Save labels" in Refine mode after a refinement (brush rows, Undo/Redo, the
/// "unsaved" line, the set's line and the refinement's status above).
pub const EXPORT_FIELD_REFINING: (u32, u32) = (122, 742);
pub const SAVE_LABELS_REFINING: (u32, u32) = (47, 766);
/// Export field and "Save labels" while the model's labels are shown, not in paint mode.
pub const EXPORT_FIELD: (u32, u32) = (122, 599);
pub const SAVE_LABELS: (u32, u32) = (47, 623);
/// The same in paint mode with unsaved edits (brush rows, Undo/Redo and the "unsaved" line above).
pub const EXPORT_FIELD_EDITING: (u32, u32) = (122, 701);
pub const SAVE_LABELS_EDITING: (u32, u32) = (47, 725);
/// "Reset view" (zoom and pan) while the model's labels are shown, not in paint mode.
pub const RESET_VIEW: (u32, u32) = (47, 742);

/// Training page: the form's fields (the page is laid out top-down from the heading).
pub const CASES_FIELD: (u32, u32) = (302, 67);
pub const START_FROM_FIELD: (u32, u32) = (302, 90);
pub const WRITE_TO_FIELD: (u32, u32) = (302, 113);
pub const STEPS_FIELD: (u32, u32) = (131, 159);
/// "Start training" / "Stop" (one place), below the line saying what the cases folder holds and the
/// line of the cases' check (a spinner with the count, then the label classes found).
pub const START_STOP: (u32, u32) = (54, 340);
/// The "Experts side by side" check box in the right panel, once a toggle has added the timing line.
pub const EXPERTS_SIDE_BY_SIDE: (u32, u32) = (1017, 526);

/// Worklist page: the button of row `i` (cases sorted by name) and its status cell.
pub fn worklist_row(i: u32) -> (u32, u32) {
    (60, 158 + 23 * i)
}
pub fn worklist_status(i: u32) -> Rect {
    Rect(386, 150 + 23 * i, 446, 168 + 23 * i)
}
/// The review bar over the left panel of a worklist case: "accepted".
pub const REVIEW_ACCEPTED: (u32, u32) = (120, 60);
/// The case's name under the review bar.
pub const CASE_TITLE_IN_REVIEW: Rect = Rect(4, 128, 270, 150);
/// "All sequences side by side" in the left panel of a worklist case (below the review bar).
pub const ALL_SEQUENCES_IN_REVIEW: (u32, u32) = (15, 299);
