//! A lock file naming who owns a file that several app windows could write (a case's autosave): the
//! owner's process id and a token of its app instance. A second window finds the lock held and writes
//! elsewhere; a lock whose process is gone (a crash, a kill) is stale and taken over. Taking it is
//! `create_new`, so two windows opening a case at once cannot both own it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A token unique to one app instance in this machine's running processes: `PID-N`.
pub fn instance_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// What claiming a lock gave.
#[derive(Debug)]
pub enum Claim {
    /// This instance owns it until the [`OwnerLock`] is dropped.
    Owned(OwnerLock),
    /// Another running instance owns it: its process id and token.
    Held { pid: u32, token: String },
}

/// An owned lock; dropping it removes the lock file (when it still names this owner).
#[derive(Debug)]
pub struct OwnerLock {
    path: PathBuf,
    token: String,
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        if read_owner(&self.path).is_some_and(|(_, t)| t == self.token) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Claims the lock file `path` for the instance `token`: owned when there is no lock, when it names
/// a process that is gone (taken over) or this same instance; held when another running instance
/// owns it. Errors (a folder that cannot be written) are the file system's.
pub fn claim(path: &Path, token: &str) -> std::io::Result<Claim> {
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(mut f) => {
                writeln!(f, "{token}")?;
                return Ok(Claim::Owned(OwnerLock {
                    path: path.to_path_buf(),
                    token: token.to_string(),
                }));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        match read_owner(path) {
            Some((pid, t)) if t != token && alive(pid) => return Ok(Claim::Held { pid, token: t }),
            // Stale, unreadable or this instance's own: replace it and try again.
            _ => std::fs::remove_file(path).or_else(ignore_missing)?,
        }
    }
    Err(std::io::Error::other(format!(
        "{} is being claimed by another window at the same moment",
        path.display()
    )))
}

fn ignore_missing(e: std::io::Error) -> std::io::Result<()> {
    match e.kind() {
        std::io::ErrorKind::NotFound => Ok(()),
        _ => Err(e),
    }
}

/// The process id and token a lock file names.
fn read_owner(path: &Path) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let token = text.trim().to_string();
    let pid = token.split('-').next()?.parse().ok()?;
    Some((pid, token))
}

/// Whether process `pid` runs. Linux answers through /proc; elsewhere a lock is never taken as
/// stale (a second window then keeps writing elsewhere, which loses nothing).
pub fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_owner_at_a_time_and_a_dead_owner_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("case.lock");
        let (a, b) = (instance_token(), instance_token());
        let Claim::Owned(lock) = claim(&path, &a).unwrap() else {
            panic!("the first claim owns it");
        };
        match claim(&path, &b).unwrap() {
            Claim::Held { pid, token } => assert_eq!((pid, token), (std::process::id(), a.clone())),
            other => panic!("held by the first: {other:?}"),
        }
        drop(lock);
        assert!(!path.exists(), "released on drop");
        // A process that has ended: its lock is stale.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(&path, format!("{dead}-0\n")).unwrap();
        assert!(matches!(claim(&path, &b).unwrap(), Claim::Owned(_)));
    }
}
