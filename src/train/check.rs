//! The cases a training run would use, checked before it starts (the Training page shows this): each
//! labelled case read and prepared exactly as the run will (`cache::prepared_case`, so the run then
//! finds it in the cache), with the modalities it has, the label classes its map holds, and, for a case
//! the run would stop at, why.

use super::cache::prepared_case;
use crate::case::CaseSource;
use crate::error::{CloeError, Result};
use crate::preprocess::PrepareOptions;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// One labelled case as a training run would see it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseCheck {
    pub id: String,
    pub present: Vec<String>,
    pub missing: Vec<String>,
    /// The names of the label classes with voxels in its map (after preparation).
    pub classes: Vec<String>,
    /// Why the run would stop at this case (it cannot be read or prepared), if it would.
    pub problem: Option<String>,
}

/// Checks the labelled cases of `sources` at the model spacing `spacing_mm` (cases without a label map
/// are left out, as training leaves them); `progress(done, total)` after each case, `cancel` stops
/// between cases with [`CloeError::Cancelled`].
pub fn check_cases(
    sources: &[CaseSource],
    spacing_mm: f64,
    cache_dir: Option<&Path>,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Vec<CaseCheck>> {
    let labelled: Vec<&CaseSource> = sources.iter().filter(|s| s.is_labelled()).collect();
    let opts = PrepareOptions::at_spacing(spacing_mm);
    let mut checks = Vec::with_capacity(labelled.len());
    for (i, source) in labelled.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(CloeError::Cancelled);
        }
        let names = source.profile.classes();
        let (classes, problem) = match prepared_case(source, opts, cache_dir) {
            Ok(case) => {
                let mut seen = vec![false; names.len()];
                for &c in case.label.iter().flatten() {
                    if let Some(s) = seen.get_mut(c as usize) {
                        *s = true;
                    }
                }
                let found = (1..names.len())
                    .filter(|&c| seen[c])
                    .map(|c| names[c].to_string())
                    .collect();
                (found, None)
            }
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        checks.push(CaseCheck {
            id: source.id.clone(),
            present: source.present().iter().map(|m| m.to_string()).collect(),
            missing: source.missing().iter().map(|m| m.to_string()).collect(),
            classes,
            problem,
        });
        progress(i + 1, labelled.len());
    }
    Ok(checks)
}
