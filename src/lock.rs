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

use crate::Error;

pub const LOCK_FILE: &str = ".fundwatch.lock";

#[derive(Debug)]
pub struct RunLock {
    // Held for its lock; released on drop.
    _files: Vec<File>,
}

fn acquire_one(dir: &Path, command: &str) -> Result<File, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    let path: PathBuf = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::output(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(Error::Busy(format!(
                "{} is in use by another run ({}): wait for it to finish",
                dir.display(),
                if holder.is_empty() { "holder unknown" } else { holder }
            )));
        }
        Err(TryLockError::Error(e)) => return Err(Error::output(&path, e)),
    }
    let me = format!("pid {}, started {}, `{command}`", std::process::id(), Local::now().format("%Y-%m-%d %H:%M:%S"));
    file.set_len(0).map_err(|e| Error::output(&path, e))?;
    file.rewind().map_err(|e| Error::output(&path, e))?;
    file.write_all(me.as_bytes()).map_err(|e| Error::output(&path, e))?;
    file.flush().map_err(|e| Error::output(&path, e))?;
    Ok(file)
}

impl RunLock {
    /// Locks every directory given (the lake, the output), or none.
    pub fn acquire(dirs: &[&Path], command: &str) -> Result<RunLock, Error> {
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
