//! The edits of one case view: paint mode with a round brush (radius in mm, the class to paint, or
//! erase), strokes into the overlay's labels through the library's `edit` module, undo and redo of
//! whole strokes, and what the autosave needs to know (unsaved since when, autosaved up to which
//! overlay version, an autosave of an earlier session to offer).

use super::overlay::Overlay;
use crate::app::job::Job;
use crate::case::Case;
use crate::edit::{Brush, History, Stroke, dab, line};
use crate::refine::{BoxInput, Scribble};
use crate::render::{Plane, SliceMap};
use crate::volume::Grid;
use std::path::PathBuf;
use std::time::Instant;

/// The editing state of one case view.
pub struct EditState {
    /// Paint mode: the primary button paints instead of moving the crosshair.
    pub painting: bool,
    pub brush: Brush,
    /// Paint 0 instead of the brush's class.
    pub erase: bool,
    pub history: History,
    /// The stroke in progress: its changes, the plane and the last voxel painted.
    stroke: Option<(Stroke, Plane, [usize; 3])>,
    /// The overlay holds edits not yet saved to a file by the user.
    pub unsaved: bool,
    /// The overlay version of the last autosave, the autosave being written, and the last change.
    pub autosaved: u64,
    pub autosave_job: Option<(u64, Job<()>)>,
    pub last_change: Option<Instant>,
    /// An autosave of this case from an earlier session, offered for restoring.
    pub restore_offer: Option<PathBuf>,
    /// This window's claim on the case's autosave: owned (released when the case closes), or held by
    /// another window (this one then autosaves beside it); None without an autosave folder.
    pub autosave_claim: Option<crate::io::owner_lock::Claim>,
    /// Refine mode: each stroke also tells the refiner what its voxels are.
    pub refining: bool,
    /// The stroke set of Refine mode in progress.
    pub set: RefineSet,
}

/// The strokes of one refinement, which are one undo step together with what they refined: the labels
/// before the first, the strokes, and how many undo steps the set holds now.
#[derive(Debug, Default)]
pub struct RefineSet {
    pub base: Option<Vec<u8>>,
    pub scribbles: Vec<Scribble>,
    entries: usize,
    /// A stroke was added since the last refinement started.
    pub wants_run: bool,
}

impl Default for EditState {
    fn default() -> Self {
        Self {
            painting: false,
            brush: Brush {
                radius_mm: 3.0,
                class: 1,
            },
            erase: false,
            history: History::default(),
            stroke: None,
            unsaved: false,
            autosaved: 0,
            autosave_job: None,
            last_change: None,
            restore_offer: None,
            autosave_claim: None,
            refining: false,
            set: RefineSet::default(),
        }
    }
}

impl EditState {
    /// True while a brush stroke is being painted.
    pub fn stroke_active(&self) -> bool {
        self.stroke.is_some()
    }

    /// Makes the overlay editable: the labels shown, or empty ones on `grid` when there are none (a heat
    /// map gives way to the labels).
    pub fn start(&mut self, overlay: &mut Overlay, grid: &Grid) {
        overlay.heat = None;
        if overlay.labels.is_none() {
            overlay.labels = Some(vec![0; grid.len()]);
            overlay.name = "new labels".into();
        }
        self.painting = true;
        overlay.version += 1;
    }

    /// Paints at voxel `at` of `plane`, joining it to the previous position of the same stroke.
    pub fn paint(&mut self, overlay: &mut Overlay, grid: &Grid, plane: Plane, at: [usize; 3]) {
        if overlay.labels.is_none() || overlay.heat.is_some() {
            self.start(overlay, grid);
        }
        let class = if self.erase { 0 } else { self.brush.class };
        let brush = Brush {
            class,
            ..self.brush
        };
        let map = SliceMap::new(grid, plane);
        let (mut stroke, last) = match self.stroke.take() {
            Some((s, p, last)) if p == plane && last[map.axes[2]] == at[map.axes[2]] => {
                (s, Some(last))
            }
            Some(other) => {
                // Another slice or plane: the stroke so far ends there (and, refining, joins the set).
                self.stroke = Some(other);
                self.end_stroke();
                (Stroke::default(), None)
            }
            None => (Stroke::default(), None),
        };
        let labels = overlay.labels.as_mut().expect("made above");
        if self.refining && self.set.base.is_none() {
            self.set.base = Some(labels.clone());
        }
        let changed = match last {
            Some(from) => line(labels, grid, &map, from, at, &brush, &mut stroke),
            None => dab(labels, grid, &map, at, &brush, &mut stroke),
        };
        self.stroke = Some((stroke, plane, at));
        if changed > 0 {
            self.changed(overlay);
        }
    }

    /// Ends the stroke in progress (pointer released): it becomes one undo step; in Refine mode it
    /// joins the set and asks for a refinement.
    pub fn end_stroke(&mut self) {
        let Some((s, _, _)) = self.stroke.take() else {
            return;
        };
        if self.refining && !s.covered().is_empty() {
            let class = if self.erase { 0 } else { self.brush.class };
            let voxels = s.covered().to_vec();
            self.set.scribbles.push(Scribble { class, voxels });
            self.set.entries += !s.is_empty() as usize;
            self.set.wants_run = true;
        }
        self.history.push(s);
    }

    /// Puts a refinement of the set into the labels (`refined` of the box `boxed`), the set's strokes
    /// and refinements one undo step.
    pub fn refined(&mut self, overlay: &mut Overlay, boxed: &BoxInput, refined: &[u8]) -> usize {
        let Some(labels) = overlay.labels.as_mut() else {
            return 0;
        };
        // Only the box can change: the undo step is read from it, not from the whole grid.
        let changes = (refined.iter().enumerate()).map(|(j, &new)| {
            let i = boxed.roi.grid_index(j);
            (i, labels[i], new)
        });
        let stroke = Stroke::from_changes(changes);
        let changed = boxed.apply(refined, labels);
        let entries = self.set.entries + !stroke.is_empty() as usize;
        self.history.push(stroke);
        self.set.entries = self.history.merge_last(entries);
        self.changed(overlay);
        changed
    }

    /// Ends the stroke set: the next stroke in Refine mode starts a new one.
    pub fn end_set(&mut self) {
        self.set = RefineSet::default();
    }

    /// Undoes the last stroke; false when there is nothing to undo.
    pub fn undo(&mut self, overlay: &mut Overlay) -> bool {
        self.end_stroke();
        self.end_set();
        let done = (overlay.labels.as_mut()).is_some_and(|labels| self.history.undo(labels));
        if done {
            self.changed(overlay);
        }
        done
    }

    /// Redoes the last undone stroke; false when there is nothing to redo.
    pub fn redo(&mut self, overlay: &mut Overlay) -> bool {
        let done = (overlay.labels.as_mut()).is_some_and(|labels| self.history.redo(labels));
        if done {
            self.changed(overlay);
        }
        done
    }

    /// Drops the edits: the case's own labels (or none) are shown again and the undo history is gone.
    pub fn discard(&mut self, overlay: &mut Overlay, case: &Case) {
        self.stroke = None;
        self.end_set();
        self.history.clear();
        self.unsaved = false;
        self.painting = false;
        overlay.show_truth(case);
    }

    fn changed(&mut self, overlay: &mut Overlay) {
        overlay.edited();
        self.unsaved = true;
        self.last_change = Some(Instant::now());
    }
}
