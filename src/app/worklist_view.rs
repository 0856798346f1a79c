//! The worklist in the viewer: the Worklist page lists a folder's cases (modalities, ground truth,
//! model run, labels saved, review status and comment) and exports them as CSV; over the open case a
//! review bar sets its status and comment and moves to the next or previous case (buttons, N and
//! Shift+N). Once the model has segmented the open case, the next case is read and segmented ahead of
//! time, so moving on shows its overlay at once.

use super::case_view::CaseView;
use super::job::Job;
use super::model_panel::ModelPanel;
use super::opening::{Opened, prefetch};
use crate::error::Result;
use crate::io::WriteOptions;
use crate::metrics::MeasurementReport;
use crate::worklist::{Review, ReviewRecord, Worklist};
use eframe::egui;
use std::path::{Path, PathBuf};

/// The worklist part of the app.
pub struct WorklistPart {
    pub list: Option<Worklist>,
    /// Where reviews are kept (the app's data folder; tests give their own).
    pub store_dir: Option<PathBuf>,
    /// Read and segment the next case ahead of time.
    pub prefetching: bool,
    /// The next case being read ahead: its place in the list and the job.
    prefetch: Option<(usize, Job<Opened>)>,
    /// The comment field of the open case, and the case it belongs to.
    comment: (String, String),
    pub export_field: String,
}

impl Default for WorklistPart {
    fn default() -> Self {
        Self {
            list: None,
            store_dir: None,
            prefetching: true,
            prefetch: None,
            comment: (String::new(), String::new()),
            export_field: String::new(),
        }
    }
}

impl WorklistPart {
    /// Opens the worklist of `sources` found in `folder`.
    pub fn open(&mut self, folder: &Path, sources: Vec<crate::case::CaseSource>) -> Result<()> {
        let store = (self.store_dir.clone())
            .unwrap_or_else(|| std::env::temp_dir().join("cloe-studio-worklists"));
        self.drop_prefetch();
        self.list = Some(Worklist::open(folder, sources, &store)?);
        self.export_field = folder.join("review.csv").display().to_string();
        Ok(())
    }

    /// The place of the open case in the worklist.
    pub fn current(&self, view: Option<&CaseView>) -> Option<usize> {
        self.list.as_ref()?.index_of(&view?.case.id)
    }

    /// The prefetched job of case `i`, if that is the case read ahead.
    pub fn take_prefetch(&mut self, i: usize) -> Option<Job<Opened>> {
        match self.prefetch.take() {
            Some((j, job)) if j == i => Some(job),
            other => {
                self.prefetch = other;
                None
            }
        }
    }

    /// True while a case is read ahead.
    pub fn prefetching_now(&self) -> Option<usize> {
        self.prefetch.as_ref().map(|(i, _)| *i)
    }

    /// True while the case read ahead is still being read or segmented.
    pub fn prefetch_running(&self) -> bool {
        self.prefetch
            .as_ref()
            .is_some_and(|(_, job)| !job.finished())
    }

    fn drop_prefetch(&mut self) {
        if let Some((_, job)) = self.prefetch.take() {
            job.cancel();
        }
    }

    /// Once per frame: notes that the model segmented the open case, and once it has (or without a
    /// model), starts reading the next case ahead.
    pub fn tick(&mut self, view: Option<&CaseView>, models: &ModelPanel, loading: bool) {
        let (Some(i), Some(view)) = (self.current(view), view) else {
            return;
        };
        let model = models.model.as_ref();
        let segmented = model.is_some_and(|m| m.maps.is_some() && !m.busy());
        if let (Some(m), Some(list)) = (model.filter(|_| segmented), self.list.as_mut()) {
            let name = m.name();
            if list.record(&view.case.id).model.as_ref() != Some(&name) {
                // A failed write shows at the next status change; the review goes on.
                let _ = list.update(&view.case.id, |r| r.model = Some(name));
            }
        }
        let ready = segmented || (model.is_none() && models.pending.is_none());
        let next = i + 1;
        if self.prefetch.as_ref().is_some_and(|(j, _)| *j != next) {
            // The reader went elsewhere: the case read ahead is not the next one any more.
            self.drop_prefetch();
        }
        let Some(list) = self.list.as_ref().filter(|l| next < l.cases.len()) else {
            return;
        };
        if !self.prefetching || loading || !ready || self.prefetch.is_some() {
            return;
        }
        let source = list.cases[next].clone();
        let model = model.map(|m| m.prefetch_model());
        self.prefetch = Some((next, prefetch(source, model)));
    }

    /// Sets case `id`'s status with the comment typed and what the measurements panel shows.
    fn set_status(&mut self, view: &CaseView, status: Review) -> Result<()> {
        let measured = view.measure.current().map(|m| {
            let case = &view.case;
            MeasurementReport::new(&case.id, case.profile, &case.grid, view.overlay.title(), m)
        });
        let comment = self.comment.1.clone();
        let Some(list) = self.list.as_mut() else {
            return Ok(());
        };
        list.update(&view.case.id, |r| {
            r.status = status;
            r.comment = comment;
            if measured.is_some() {
                r.measurements = measured;
            }
        })
    }

    /// Notes that the open case's labels were saved to `path`.
    pub fn saved(&mut self, view: &CaseView, path: PathBuf) -> Result<()> {
        match self.list.as_mut() {
            Some(list) if list.index_of(&view.case.id).is_some() => {
                list.update(&view.case.id, |r| r.saved = Some(path))
            }
            _ => Ok(()),
        }
    }

    /// The review bar over the left panel: the case's place, Previous / Next, its status and comment.
    /// Returns the case to open.
    pub fn review_bar(
        &mut self,
        ui: &mut egui::Ui,
        view: &CaseView,
        error: &mut Option<String>,
    ) -> Option<usize> {
        let i = self.current(Some(view))?;
        let list = self.list.as_ref()?;
        let record = list.record(&view.case.id);
        let (n, status, saved_comment) = (list.cases.len(), record.status, record.comment.clone());
        if self.comment.0 != view.case.id {
            self.comment = (view.case.id.clone(), saved_comment.clone());
        }
        let mut go = None;
        ui.horizontal(|ui| {
            ui.strong(format!("Case {} of {n}", i + 1));
            let previous = ui.add_enabled(i > 0, egui::Button::new("< Previous"));
            if previous
                .on_hover_text("the previous case (Shift+N)")
                .clicked()
            {
                go = Some(i - 1);
            }
            let next = ui.add_enabled(i + 1 < n, egui::Button::new("Next >"));
            if next.on_hover_text("the next case (N)").clicked() {
                go = Some(i + 1);
            }
        });
        let mut chosen = None;
        ui.horizontal_wrapped(|ui| {
            for s in Review::ALL {
                if ui.selectable_label(status == s, s.name()).clicked() {
                    chosen = Some(s);
                }
            }
        });
        let edited = ui
            .horizontal(|ui| {
                let label = ui.label("Comment").id;
                let field = egui::TextEdit::singleline(&mut self.comment.1).desired_width(180.0);
                ui.add(field).labelled_by(label).lost_focus()
            })
            .inner;
        if edited && self.comment.1 != saved_comment {
            chosen = chosen.or(Some(status));
        }
        if let Some(s) = chosen
            && let Err(e) = self.set_status(view, s)
        {
            *error = Some(e.to_string());
        }
        ui.separator();
        go
    }

    /// N / Shift+N: the next or previous case.
    pub fn keys(&self, ctx: &egui::Context, view: Option<&CaseView>) -> Option<usize> {
        let i = self.current(view)?;
        let n = self.list.as_ref()?.cases.len();
        if ctx.text_edit_focused() {
            return None;
        }
        let (next, previous) = ctx.input_mut(|inp| {
            let previous = inp.consume_key(egui::Modifiers::SHIFT, egui::Key::N);
            (
                inp.consume_key(egui::Modifiers::NONE, egui::Key::N),
                previous,
            )
        });
        match (next, previous) {
            (true, _) if i + 1 < n => Some(i + 1),
            (_, true) if i > 0 => Some(i - 1),
            _ => None,
        }
    }

    /// The Worklist page: the table of cases, the counts per status, the CSV export. Returns the case
    /// to open.
    pub fn page(
        &mut self,
        ui: &mut egui::Ui,
        open: Option<usize>,
        error: &mut Option<String>,
    ) -> Option<usize> {
        let Some(list) = self.list.as_ref() else {
            ui.heading("Worklist");
            ui.label(
                "Open a folder of cases (the path field, Browse…, or `cloe view FOLDER`) to go \
                 through them one after the other, with a review status for each.",
            );
            return None;
        };
        ui.heading(format!("Worklist: {}", list.folder.display()));
        let counts = list.counts();
        let summary: Vec<String> = (Review::ALL.iter().zip(counts))
            .map(|(s, c)| format!("{c} {}", s.name()))
            .collect();
        ui.label(format!(
            "{} cases: {}",
            list.cases.len(),
            summary.join(", ")
        ));
        ui.weak(format!("reviews kept in {}", list.store().display()));
        export_row(ui, &mut self.export_field, list, error);
        ui.separator();
        let mut chosen = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("worklist").striped(true).show(ui, |ui| {
                for head in [
                    "case",
                    "modalities",
                    "truth",
                    "model",
                    "saved",
                    "status",
                    "comment",
                ] {
                    ui.strong(head);
                }
                ui.end_row();
                for (i, c) in list.cases.iter().enumerate() {
                    if case_row(ui, i, c, list.record(&c.id), open == Some(i)) {
                        chosen = Some(i);
                    }
                    ui.end_row();
                }
            });
        });
        chosen
    }
}

/// The CSV field and its Export button.
fn export_row(ui: &mut egui::Ui, field: &mut String, list: &Worklist, error: &mut Option<String>) {
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(field)
                .desired_width(360.0)
                .hint_text("review.csv"),
        );
        if ui.button("Export CSV").clicked() {
            let path = PathBuf::from(field.trim());
            let opts = WriteOptions::protecting(inputs(list)).overwriting(true);
            *error = list.export_csv(&path, &opts).err().map(|e| e.to_string());
        }
    });
}

/// Every input file of a worklist's cases (never written over).
fn inputs(list: &Worklist) -> Vec<PathBuf> {
    list.cases.iter().flat_map(|c| c.input_files()).collect()
}

/// One row of the table; returns true when the case's button was clicked.
fn case_row(
    ui: &mut egui::Ui,
    i: usize,
    c: &crate::case::CaseSource,
    r: &ReviewRecord,
    open: bool,
) -> bool {
    let name = format!("{}. {}", i + 1, c.id);
    let clicked = if open {
        ui.strong(name).on_hover_text("the case open in the viewer");
        false
    } else {
        ui.button(name).on_hover_text("open this case").clicked()
    };
    ui.label(c.present().join(" "));
    ui.label(if c.is_labelled() { "yes" } else { "–" });
    ui.label(if r.model.is_some() { "run" } else { "–" });
    ui.label(if r.saved.is_some() { "saved" } else { "–" });
    ui.label(r.status.name());
    ui.label(&r.comment);
    clicked
}
