//! One run at a time on a lake and an output directory.
//!
//! An exclusive lock on `<dir>/.fundwatch.lock`, held for the whole run.
//! The operating system releases it when the process ends however it ends,
//! so a lock left by a dead run is simply taken over; a live holder is
//! named (pid, start time, command) in the refusal.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::Local;

pub const LOCK_FILE: &str = ".fundwatch.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds the directory.
    #[error("{} is in use by another run ({holder}): wait for it to finish", dir.display())]
    Busy { dir: PathBuf, holder: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LockError + '_ {
    move |source| LockError::Io { path: path.to_path_buf(), source }
}

#[derive(Debug)]
pub struct RunLock {
    // Held for its lock; released on drop.
    _files: Vec<File>,
}

fn acquire_one(dir: &Path, command: &str) -> Result<File, LockError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path: PathBuf = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io(&path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "holder unknown" } else { holder };
            return Err(LockError::Busy { dir: dir.to_path_buf(), holder: holder.to_string() });
        }
        Err(TryLockError::Error(e)) => return Err(io(&path)(e)),
    }
    let me = format!("pid {}, started {}, `{command}`", std::process::id(), Local::now().format("%Y-%m-%d %H:%M:%S"));
    file.set_len(0).map_err(io(&path))?;
    file.rewind().map_err(io(&path))?;
    file.write_all(me.as_bytes()).map_err(io(&path))?;
    file.flush().map_err(io(&path))?;
    Ok(file)
}

impl RunLock {
    /// Locks every directory given (the lake, the output), or none.
    pub fn acquire(dirs: &[&Path], command: &str) -> Result<RunLock, LockError> {
        let mut files = Vec::new();
        let mut seen: Vec<PathBuf> = Vec::new();
        for dir in dirs {
            let key = dir.to_path_buf();
            if seen.contains(&key) {
                continue;
            }
            files.push(acquire_one(dir, command)?);
            seen.push(key);
        }
        Ok(RunLock { _files: files })
    }
}
