//! What is drawn over the image: a label map in training classes (ground truth, a file, a model's
//! output, the user's edits) or a heat map (REC region map, disagreement), its name, and a version
//! that counts every change, so textures, measurements and meshes know when to follow.

use crate::case::Case;

/// A heat map on the case grid and the value drawn at full strength.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatMap {
    pub values: Vec<f32>,
    pub max: f32,
}

/// The overlay of a case view.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    /// Training classes on the case grid.
    pub labels: Option<Vec<u8>>,
    /// A heat map drawn instead of the labels.
    pub heat: Option<HeatMap>,
    pub name: String,
    /// Counts the changes of the labels or the heat map.
    pub version: u64,
    /// The model whose output the labels are (None: the ground truth, a file, drawn by hand).
    pub model: Option<String>,
    /// The labels were edited since they were shown.
    pub edited: bool,
    /// The labels are the model's first look at the case, which its remaining windows are refining:
    /// not saved as the model's result until they arrive (or the reader edits them).
    pub provisional: bool,
}

impl Overlay {
    /// The case's own ground truth, if it has one.
    pub fn ground_truth(case: &Case) -> Self {
        let mut overlay = Self::default();
        overlay.show_truth(case);
        overlay.version = 0;
        overlay
    }

    /// Shows `labels` (or nothing) named `name`.
    pub fn show_labels(&mut self, labels: Option<Vec<u8>>, name: impl Into<String>) {
        self.labels = labels;
        self.heat = None;
        self.name = name.into();
        self.version += 1;
        (self.model, self.edited, self.provisional) = (None, false, false);
    }

    /// Shows the case's ground truth (nothing when it has none).
    pub fn show_truth(&mut self, case: &Case) {
        let truth = case.label.as_ref().map(|l| l.classes.clone());
        let name = if truth.is_some() { "ground truth" } else { "" };
        self.show_labels(truth, name);
    }

    /// Shows a heat map over the labels (which stay for editing and measuring).
    pub fn show_heat(&mut self, heat: HeatMap, name: impl Into<String>) {
        self.heat = Some(heat);
        self.name = name.into();
        self.version += 1;
    }

    /// A mark that the labels changed in place (a brush stroke, undo), the name saying so once.
    pub fn edited(&mut self) {
        self.version += 1;
        self.edited = true;
        if !self.name.ends_with("(edited)") {
            self.name = format!("{} (edited)", self.name);
        }
    }

    /// True while the labels are a model's first look not yet edited: saving waits for its result.
    pub fn awaiting_model(&self) -> bool {
        self.provisional && !self.edited
    }

    /// Who made the labels, as a DICOM SEG records it.
    pub fn origin(&self) -> crate::export_prediction::LabelOrigin {
        use crate::export_prediction::LabelOrigin;
        match (&self.model, self.edited) {
            (Some(name), false) => LabelOrigin::Model { name: name.clone() },
            (Some(name), true) => LabelOrigin::EditedModel { name: name.clone() },
            (None, _) => LabelOrigin::Person,
        }
    }

    /// What the panel says is shown.
    pub fn title(&self) -> &str {
        if self.labels.is_some() || self.heat.is_some() {
            &self.name
        } else {
            "none"
        }
    }
}
