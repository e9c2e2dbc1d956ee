//! One run per directory: `train` holds `<out>/.lock` (the holder's pid) while it runs. A
//! second run on the same directory fails at once naming the holder; a lock whose process
//! is gone (a run killed with SIGKILL, a crash) is stale and is taken over.
//!
//! Two runs that find the same stale lock at the same instant can both take it over; the
//! lock guards against the usual mistake (starting a run on a busy directory), not a race.

use crate::error::{ElmanError, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A held lock; dropping it removes the file (if it is still ours).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    pid: u32,
}

/// Whether process `pid` is running (on Unix: signal 0 reaches it, or exists but is not
/// ours to signal). Elsewhere every holder counts as alive.
fn is_running(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
        if pid <= 0 {
            return false;
        }
        // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

impl RunLock {
    /// Takes `dir`'s lock (creating `dir`); returns the lock and, when a stale one was taken
    /// over, the pid that had held it.
    pub fn acquire(dir: &Path) -> Result<(RunLock, Option<u32>)> {
        let path = dir.join(".lock");
        let write_err = |source| ElmanError::Write { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(|source| ElmanError::Write { path: dir.to_path_buf(), source })?;
        let pid = std::process::id();
        let mut stale = None;
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    writeln!(file, "{pid}").map_err(write_err)?;
                    return Ok((RunLock { path, pid }, stale));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let holder = text.trim().parse::<u32>().ok();
                    if let Some(holder) = holder.filter(|&h| h != pid && is_running(h)) {
                        return Err(ElmanError::Data {
                            what: dir.display().to_string(),
                            detail: format!(
                                "in use by a running elman (pid {holder}, lock {}); wait for it to finish or choose another output folder",
                                path.display()
                            ),
                        });
                    }
                    stale = holder.or(Some(0));
                    std::fs::remove_file(&path).map_err(write_err)?;
                }
                Err(e) => return Err(write_err(e)),
            }
        }
        Err(ElmanError::Data { what: dir.display().to_string(), detail: format!("another run took {} while this one was starting", path.display()) })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path).ok().and_then(|t| t.trim().parse::<u32>().ok()) == Some(self.pid);
        if ours {
            std::fs::remove_file(&self.path).ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_holder_blocks_and_a_dead_one_is_taken_over() {
        let dir = std::env::temp_dir().join(format!("elman-lock-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let (lock, stale) = RunLock::acquire(&dir).unwrap();
        assert_eq!(stale, None);
        assert_eq!(std::fs::read_to_string(dir.join(".lock")).unwrap().trim(), std::process::id().to_string());
        drop(lock);
        assert!(!dir.join(".lock").exists(), "a released lock is removed");
        // Another live process (pid 1) holds it.
        std::fs::write(dir.join(".lock"), "1\n").unwrap();
        let err = RunLock::acquire(&dir).unwrap_err().to_string();
        assert!(err.contains("pid 1") && err.contains("in use"), "{err}");
        // A pid that cannot be running is stale, and so is an unreadable lock.
        for (text, holder) in [(format!("{}\n", i32::MAX), i32::MAX as u32), ("garbage".to_string(), 0)] {
            std::fs::write(dir.join(".lock"), text).unwrap();
            let (lock, stale) = RunLock::acquire(&dir).unwrap();
            assert_eq!(stale, Some(holder));
            drop(lock);
        }
        // A lock that someone else replaced is not removed by the old holder.
        let (lock, _) = RunLock::acquire(&dir).unwrap();
        std::fs::write(dir.join(".lock"), "1\n").unwrap();
        drop(lock);
        assert!(dir.join(".lock").exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
