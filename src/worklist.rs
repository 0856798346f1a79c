//! A worklist: the cases of a folder to go through one after the other, as a reader reviews a model's
//! segmentations. Per case a review status (to review, accepted, corrected, rejected) with a comment,
//! whether the model ran and where corrected labels were saved, and the measurements of the labels as
//! they were reviewed. The record persists per folder in the user's data folder (one JSON file, written
//! atomically at every change; never inside the cases' folders, which may be read-only) and exports as
//! CSV: status, comment, region volumes, lesion count and, where a ground truth exists, Dice and HD95.

use crate::case::{CaseSource, Profile};
use crate::error::{CloeError, Result};
use crate::io::{WriteOptions, write_json, write_text};
use crate::metrics::{MeasurementReport, csv_field};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// A case's review status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    #[default]
    ToReview,
    Accepted,
    Corrected,
    Rejected,
}

impl Review {
    /// Every status, in the order the app offers them.
    pub const ALL: [Review; 4] = [
        Review::ToReview,
        Review::Accepted,
        Review::Corrected,
        Review::Rejected,
    ];

    /// As shown and exported.
    pub fn name(self) -> &'static str {
        match self {
            Review::ToReview => "to review",
            Review::Accepted => "accepted",
            Review::Corrected => "corrected",
            Review::Rejected => "rejected",
        }
    }
}

/// What is known of one case's review.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviewRecord {
    pub status: Review,
    pub comment: String,
    /// When the status or comment last changed (UTC, RFC 3339).
    pub updated: Option<String>,
    /// The model that segmented the case in the viewer, once it ran.
    pub model: Option<String>,
    /// Where the reader saved the case's labels last.
    pub saved: Option<PathBuf>,
    /// The labels as they were reviewed, measured.
    pub measurements: Option<MeasurementReport>,
}

/// The file a worklist keeps.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    folder: PathBuf,
    cases: BTreeMap<String, ReviewRecord>,
}

/// The cases of a folder and their reviews.
#[derive(Debug)]
pub struct Worklist {
    pub folder: PathBuf,
    pub cases: Vec<CaseSource>,
    records: BTreeMap<String, ReviewRecord>,
    store: PathBuf,
}

impl Worklist {
    /// The worklist of `cases` found in `folder`, with the reviews kept under `store_dir` (read when
    /// there, a damaged file refused with its path rather than overwritten).
    pub fn open(folder: &Path, mut cases: Vec<CaseSource>, store_dir: &Path) -> Result<Self> {
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        let store = store_path(store_dir, folder);
        let records =
            match std::fs::read_to_string(&store) {
                Ok(text) => serde_json::from_str::<Stored>(&text)
                    .map_err(|e| {
                        CloeError::bad_header(
                            &store,
                            format!(
                                "the worklist's reviews cannot be read ({e}); move the file away"
                            ),
                        )
                    })?
                    .cases,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
                Err(e) => return Err(CloeError::unreadable(&store, e)),
            };
        Ok(Self {
            folder: folder.to_path_buf(),
            cases,
            records,
            store,
        })
    }

    /// Where the reviews are kept.
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// Case `id`'s record (the default one, to review, when nothing was recorded); borrowed, as the
    /// app reads it every frame.
    pub fn record(&self, id: &str) -> &ReviewRecord {
        static TO_REVIEW: std::sync::LazyLock<ReviewRecord> =
            std::sync::LazyLock::new(ReviewRecord::default);
        self.records.get(id).unwrap_or(&TO_REVIEW)
    }

    /// The place of case `id` in the list.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.cases.iter().position(|c| c.id == id)
    }

    /// How many cases have each status, in [`Review::ALL`] order.
    pub fn counts(&self) -> [usize; 4] {
        let mut n = [0; 4];
        for c in &self.cases {
            let s = self.record(&c.id).status;
            n[Review::ALL.iter().position(|x| *x == s).expect("a status")] += 1;
        }
        n
    }

    /// Changes case `id`'s record with `change` and writes the reviews at once; a status or comment
    /// change is timed.
    pub fn update(&mut self, id: &str, change: impl FnOnce(&mut ReviewRecord)) -> Result<()> {
        let mut record = self.record(id).clone();
        let before = (record.status, record.comment.clone());
        change(&mut record);
        if (record.status, &record.comment) != (before.0, &before.1) {
            record.updated = Some(chrono::Utc::now().to_rfc3339());
        }
        self.records.insert(id.to_string(), record);
        self.save()
    }

    fn save(&self) -> Result<()> {
        let dir = self.store.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| CloeError::write_failed(dir, &e))?;
        let stored = Stored {
            folder: self.folder.clone(),
            cases: self.records.clone(),
        };
        write_json(
            &self.store,
            &stored,
            &WriteOptions::default().overwriting(true),
        )
    }

    /// The table of every case: status, comment, what was done, and the reviewed labels' figures.
    pub fn to_csv(&self) -> String {
        let profile = self.cases.first().map_or(Profile::DEFAULT, |c| c.profile);
        let regions: Vec<&str> = profile.regions().iter().map(|r| r.name).collect();
        let mut head: Vec<String> = ["case", "status", "comment", "updated", "modalities"]
            .map(String::from)
            .to_vec();
        head.extend(["ground_truth", "model", "saved", "labels"].map(String::from));
        head.extend(regions.iter().map(|r| format!("{r}_ml")));
        head.push("lesions".into());
        head.extend(regions.iter().map(|r| format!("{r}_dice")));
        head.extend(regions.iter().map(|r| format!("{r}_hd95_mm")));
        let mut s = head.join(",") + "\n";
        for c in &self.cases {
            let _ = writeln!(s, "{}", csv_row(c, self.record(&c.id), &regions));
        }
        s
    }

    /// Writes [`Worklist::to_csv`] to `path`.
    pub fn export_csv(&self, path: &Path, opts: &WriteOptions) -> Result<()> {
        write_text(path, &self.to_csv(), opts)
    }
}

fn csv_row(c: &CaseSource, r: &ReviewRecord, regions: &[&str]) -> String {
    let text = |s: &str| csv_field(s);
    let mut cells = vec![
        text(&c.id),
        r.status.name().to_string(),
        text(&r.comment),
        r.updated.clone().unwrap_or_default(),
        c.present().join("+"),
        if c.is_labelled() { "yes" } else { "no" }.to_string(),
        text(r.model.as_deref().unwrap_or("")),
        text(
            &r.saved
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string()),
        ),
    ];
    let m = r.measurements.as_ref();
    cells.push(text(m.map_or("", |m| m.labels.as_str())));
    cells.extend(MeasurementReport::csv_cells(m, regions));
    cells.join(",")
}

/// The reviews' file of `folder` under `store_dir`: the folder's name and a hash of its full path
/// (FNV-1a), so two folders of one name keep apart.
pub fn store_path(store_dir: &Path, folder: &Path) -> PathBuf {
    let full = folder
        .canonicalize()
        .unwrap_or_else(|_| folder.to_path_buf());
    let hash = fnv1a(full.to_string_lossy().as_bytes());
    let name: String = (full
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .chars())
    .map(|c| {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '_'
        }
    })
    .take(40)
    .collect();
    store_dir.join(format!("{name}-{hash:016x}.json"))
}

/// FNV-1a, 64 bits: stable across Rust versions and machines, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    (bytes.iter()).fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_of_known_bytes_and_distinct_folders() {
        // The reference test vectors of FNV-1a 64.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        let store = Path::new("/s");
        let (a, b) = (Path::new("/x/cases"), Path::new("/y/cases"));
        assert_ne!(store_path(store, a), store_path(store, b));
        assert!(
            store_path(store, a)
                .to_string_lossy()
                .starts_with("/s/cases-")
        );
    }
}
