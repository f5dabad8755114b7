//! How the process uses the C allocator: the one place that talks to it.
//!
//! feedwire's memory comes in bursts: a poll round holds a few documents,
//! their parsed items and sled's write buffers, then lets all of it go, and
//! the daemon rests until the next round. glibc's malloc keeps freed memory
//! for reuse by default (its trim and mmap thresholds grow with the largest
//! block seen), so after one round the resident size stays near the round's
//! peak for the rest of the process's life. Two settings fix that:
//! - at start, fixed thresholds (which also turn off their growth): blocks of
//!   128 KiB or more (response bodies, sled's segment buffers) are mapped
//!   and unmapped on their own, and free memory above 128 KiB at the top of
//!   the heap goes back to the system at once;
//! - after every poll round, `malloc_trim` hands back free pages inside the
//!   heap as well;
//! - at most [`ARENAS`] malloc arenas. By default glibc gives each thread
//!   that allocates its own arena, up to eight per core: parse threads,
//!   the store's writer, sled's threads and the render each keep their own
//!   free lists and partly used pages. Two arenas took 3 MB off a cold
//!   1,000-feed `poll-once` (54 → 51 MB) for about 5 % more CPU
//!   (BENCHMARKS.md, Run 7 "cold peak RSS").
//!
//! Measured in BENCHMARKS.md ("Memory"): a cold 1,000-feed `poll-once` peaks
//! about a third lower with the thresholds than without. On other platforms
//! and C libraries both calls do nothing.

/// Bytes: the mmap and trim thresholds set by [`tune`].
pub const THRESHOLD: i32 = 128 * 1024;

/// Malloc arenas allowed by [`tune`] (glibc's default: eight per core).
pub const ARENAS: i32 = 2;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    // From <malloc.h>.
    pub const M_TRIM_THRESHOLD: i32 = -1;
    pub const M_MMAP_THRESHOLD: i32 = -3;
    pub const M_ARENA_MAX: i32 = -8;
    extern "C" {
        pub fn mallopt(param: i32, value: i32) -> i32;
        pub fn malloc_trim(pad: usize) -> i32;
    }
}

/// Sets the allocator's thresholds and arena count; call once, early in
/// `main`, before other threads start. An operator's own
/// `MALLOC_MMAP_THRESHOLD_` or `MALLOC_TRIM_THRESHOLD_` (glibc's
/// environment tunables) wins over the thresholds, `MALLOC_ARENA_MAX` over
/// the arena count: then that setting is not changed here.
pub fn tune() {
    let set = |v: &str| std::env::var_os(v).is_some();
    let thresholds = !set("MALLOC_MMAP_THRESHOLD_") && !set("MALLOC_TRIM_THRESHOLD_");
    let arenas = !set("MALLOC_ARENA_MAX");
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; these are
    // documented parameters with valid values, and no allocation is in
    // progress on another thread this early.
    unsafe {
        if thresholds {
            glibc::mallopt(glibc::M_MMAP_THRESHOLD, THRESHOLD);
            glibc::mallopt(glibc::M_TRIM_THRESHOLD, THRESHOLD);
        }
        if arenas {
            glibc::mallopt(glibc::M_ARENA_MAX, ARENAS);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (thresholds, arenas);
}

/// Returns the allocator's free pages to the system (after a poll round).
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases free memory.
    unsafe {
        glibc::malloc_trim(0);
    }
}
