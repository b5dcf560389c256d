//! The allocator, and how long it keeps memory a query has freed.
//!
//! DataFusion allocates many small buffers; mimalloc serves them far faster
//! than the system allocator (measured in bench/). Without transparent huge
//! pages (`no_thp`): every large buffer a query frees and the next one takes
//! again was a fresh 2 MiB page for the kernel to clear — a tenth of the
//! rules' time, and 3 s of a 10M-payout ingest's.
//!
//! mimalloc returns freed memory to the OS a second after it is freed. A
//! night's rules free hash tables and batches of hundreds of megabytes that
//! the next rule asks for again moments later, each time as pages the kernel
//! must map and clear anew. Kept through a stage ([`keep_freed_memory`]) and
//! given back when it ends ([`release_freed_memory`]), a 10M-payout night
//! ran about 6 % faster, its peak RSS 3.7 → 4.0–5.3 GiB (README "Performance").

use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (the same place in v2 and v3;
/// the crate names no constant for it). Its variable is `MIMALLOC_PURGE_DELAY`.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory stays with the process for `keep` before it is returned
/// (mimalloc's own delay is one second) — unless `MIMALLOC_PURGE_DELAY`
/// says otherwise.
pub fn keep_freed_memory(keep: Duration) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    let millis = std::os::raw::c_long::try_from(keep.as_millis()).unwrap_or(std::os::raw::c_long::MAX);
    // SAFETY: sets one of mimalloc's options; any value is valid, and the
    // option is read afresh each time freed memory is scheduled to return.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, millis) }
}

/// Gives the freed memory the allocator keeps back to the OS (what another
/// thread still caches comes back when that thread next collects).
pub fn release_freed_memory() {
    // SAFETY: a collection of the allocator's free memory; no pointer is
    // passed and none is invalidated.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
