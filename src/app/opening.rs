//! Opening what the user points at, on a worker: one case (read, or the files the user must first say
//! something about), or a folder of several cases, which becomes a worklist. The next case of a
//! worklist can be read, and the model run on it, ahead of time (`prefetch`), so that moving on to it
//! does not wait.

use super::job::Job;
use super::model_panel::FirstRun;
use crate::case::{
    Case, CaseChoices, CaseSource, FileToName, Profile, files_to_name, find_case, find_cases,
    load_case,
};
use crate::error::{CloeError, Result, Setting};
use crate::infer::Session;
use crate::io::ReadOptions;
use crate::model::CloeNet;
use burn::prelude::Device;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What opening gives.
pub enum Opened {
    /// A case, with the model's first run on it when it was prefetched.
    Case(Box<Case>, Option<Box<FirstRun>>),
    /// The files the user must first say something about.
    Ask(Vec<FileToName>, Profile),
    /// A folder of several cases.
    Worklist(PathBuf, Vec<CaseSource>),
}

/// Finds what is at `path`: a folder of several cases (without choices) is a worklist, anything else
/// one case, read with `choices` applied.
pub fn find_and_open(path: &Path, choices: &CaseChoices) -> Result<Opened> {
    let mut source = match find_cases(path, None) {
        Ok(mut found) if found.len() == 1 => found.remove(0),
        Ok(found) if found.len() > 1 && choices.is_empty() => {
            return Ok(Opened::Worklist(path.to_path_buf(), found));
        }
        // Files whose names say nothing, a dataset with choices: as one case, or its error.
        _ => find_case(path, None)?,
    };
    choices.apply(&mut source)?;
    open_source(&source)
}

/// Reads a case, or, where it cannot be read until the user says what a file holds, those files.
pub fn open_source(source: &CaseSource) -> Result<Opened> {
    match load_case(source, ReadOptions::default()) {
        Ok(case) => Ok(Opened::Case(Box::new(case), None)),
        Err(CloeError::Setting {
            setting: Setting::Sequence,
            why,
        }) => {
            let files = files_to_name(source)?;
            if files.is_empty() {
                return Err(CloeError::setting(Setting::Sequence, why));
            }
            Ok(Opened::Ask(files, source.profile))
        }
        Err(e) => Err(e),
    }
}

/// The model a prefetch runs: its folder, network and device.
pub struct PrefetchModel {
    pub dir: PathBuf,
    pub net: CloeNet,
    pub device: Device,
}

/// Reads `source` and runs `model` on every modality it has, on a worker.
pub fn prefetch(source: CaseSource, model: Option<PrefetchModel>) -> Job<Opened> {
    Job::spawn_background("prefetch-case", move |worker| {
        let case = match open_source(&source)? {
            Opened::Case(case, _) => case,
            other => return Ok(other),
        };
        let Some(m) = model.filter(|m| Session::fits(&m.net, &case).is_ok()) else {
            return Ok(Opened::Case(case, None));
        };
        let t = Instant::now();
        let subset = case.available();
        let mut session = Session::new(m.net, &case, m.device)?;
        let mut report = |done, total| worker.report(done, total);
        let maps = session.segment(&subset, &mut report, worker.cancel_flag())?;
        crate::allocator::hand_back();
        let run = FirstRun {
            dir: m.dir,
            session,
            maps,
            seconds: t.elapsed().as_secs_f64(),
        };
        Ok(Opened::Case(case, Some(Box::new(run))))
    })
}
