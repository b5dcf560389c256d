//! Failpoints: make a run fail, or pause, at a named point, to prove what a
//! crash there leaves behind. Set `FUNDWATCH_FAILPOINT=<point>` (fail) or
//! `<point>=sleep:<seconds>` (pause); several are separated by commas.
//! Points: `publish.before_swap`.

use std::time::Duration;

pub const ENV: &str = "FUNDWATCH_FAILPOINT";

/// A run stopped on purpose at a named point.
#[derive(Debug, thiserror::Error)]
#[error("failpoint {0} ({ENV})")]
pub struct Failpoint(pub String);

/// `Err` if the failpoint `name` is set to fail; sleeps first if asked to.
pub fn hit(name: &str) -> Result<(), Failpoint> {
    let Ok(spec) = std::env::var(ENV) else { return Ok(()) };
    for part in spec.split(',') {
        let (point, action) = part.split_once('=').unwrap_or((part, "fail"));
        if point.trim() != name {
            continue;
        }
        match action.trim().strip_prefix("sleep:") {
            Some(secs) => {
                let secs: f64 = secs.parse().ok().filter(|s: &f64| s.is_finite() && *s >= 0.0).unwrap_or(1.0);
                std::thread::sleep(Duration::from_secs_f64(secs.min(3600.0)));
            }
            None => return Err(Failpoint(name.to_string())),
        }
    }
    Ok(())
}
