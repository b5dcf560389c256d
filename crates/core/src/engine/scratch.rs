//! Scratch and spill directories: private to this user (0700), named after
//! the process that made them, removed when it ends — and, when it was
//! killed, by the next run that finds its process gone.

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use tracing::info;

/// Spill files of sorts, joins and aggregations.
pub(super) const SPILL: &str = "fundwatch-spill";
/// Materialized CTEs of a run's rules.
pub(super) const MATERIALIZED: &str = "fundwatch-materialized";

/// A new directory `<base>/<kind>-<pid>-<random>`, readable by this user only.
pub(super) fn private_dir(base: &Path, kind: &str) -> std::io::Result<TempDir> {
    let prefix = format!("{kind}-{}-", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir_in(base)
}

/// Removes the scratch and spill directories under `base` whose process is
/// gone (a run that was killed leaves them behind).
pub(super) fn clear_leftovers(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = [SPILL, MATERIALIZED].iter().find_map(|kind| owner(&name, kind)) else { continue };
        if pid != std::process::id() && !alive(pid) {
            let path: PathBuf = entry.path();
            info!(dir = %path.display(), pid, "removing what a run that was stopped left behind");
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// The process a directory `<kind>-<pid>-…` belongs to.
fn owner(name: &str, kind: &str) -> Option<u32> {
    name.strip_prefix(kind)?.strip_prefix('-')?.split('-').next()?.parse().ok()
}

/// Whether a process of this id is running (on Linux, its `/proc` entry).
fn alive(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    !proc_root.is_dir() || proc_root.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_private_and_those_of_dead_runs_are_removed() {
        let base = tempfile::tempdir().expect("base");
        let mine = private_dir(base.path(), SPILL).expect("made");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(mine.path()).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        // A directory of a process that cannot exist (pid beyond pid_max).
        let dead = base.path().join(format!("{MATERIALIZED}-4194305-abc"));
        std::fs::create_dir_all(dead.join("x")).expect("dead");
        let stranger = base.path().join("somebody-else");
        std::fs::create_dir_all(&stranger).expect("stranger");
        clear_leftovers(base.path());
        assert!(!dead.exists(), "a dead run's directory is removed");
        assert!(mine.path().exists() && stranger.exists(), "this run's and other programs' are kept");
    }
}
