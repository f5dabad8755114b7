//! How the process uses its allocators: the one place that talks to them.
//!
//! feedwire's memory comes in bursts: a poll round holds a few documents,
//! their parsed items and sled's write buffers, then lets all of it go, and
//! the daemon rests until the next round. Two allocators serve it:
//!
//! **jemalloc is Rust's global allocator** (not on MSVC), with its options
//! fixed here ([`JEMALLOC_CONF`]; `_RJEM_MALLOC_CONF` in the environment
//! wins over them). With glibc's malloc a quarter of a cold round's CPU
//! went to the allocator: its own code, and the kernel waking and putting
//! to sleep the threads that queued on its arena locks (BENCHMARKS.md, Run
//! 16 "where a cold round's CPU goes"). jemalloc's defaults remove that but
//! keep ~75 % more memory at the peak (Run 7), because of three things,
//! each set here:
//! - `narenas:1`: one arena (its default is four per core), so that the
//!   parse threads, the store's writer, sled's threads and, with
//!   `full_text`, the extraction threads share partly used pages; the
//!   thread caches keep them from queueing on its lock (two arenas: ~2 %
//!   less CPU, 1.3 MB more at the peak; with `full_text`, 3 MB more);
//! - `tcache_max:512`: each thread caches freed blocks of at most 512 bytes
//!   (the default caches up to 32 KiB, blocks that then sit idle in the
//!   caches of threads that made them). 128 kept ~2 MB less at a cold
//!   round's peak, but sent every block of 129–512 bytes (sled's nodes and
//!   values, parsed text) to the one arena's lock: 4 % more instructions
//!   and the two parse threads queueing on it (BENCHMARKS.md, Run 21
//!   "thread caches");
//! - `dirty_decay_ms:300,muzzy_decay_ms:0`: freed pages go back to the
//!   system 0.3 s after they were last used, in one step;
//!
//! and after every poll round and render [`release`] purges every arena at
//! once. A cold 1,000-feed `poll-once`: 24 % less CPU, peak within 1 MB of
//! glibc's (BENCHMARKS.md, Run 20 "jemalloc").
//!
//! **glibc's malloc** still serves C code (zstd's contexts, name lookups).
//! It keeps freed memory for reuse by default (its trim and mmap thresholds
//! grow with the largest block seen); [`tune`] fixes them:
//! - at start, fixed thresholds (which also turn off their growth): blocks of
//!   128 KiB or more are mapped and unmapped on their own, and free memory
//!   above 128 KiB at the top of the heap goes back to the system at once;
//! - after every poll round, `malloc_trim` hands back free pages inside the
//!   heap as well;
//! - at most [`ARENAS`] malloc arenas (glibc gives each thread that
//!   allocates its own, up to eight per core).
//!
//! On other platforms and C libraries the glibc calls do nothing.

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
    #[cfg(not(target_env = "msvc"))]
    jemalloc::purge();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases free memory.
    unsafe {
        glibc::malloc_trim(0);
    }
}

/// jemalloc's options (see the module doc), NUL-terminated as jemalloc
/// reads them.
pub const JEMALLOC_CONF: &[u8] = b"narenas:1,tcache_max:512,dirty_decay_ms:300,muzzy_decay_ms:0\0";

#[cfg(not(target_env = "msvc"))]
mod jemalloc {
    #[global_allocator]
    static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

    /// jemalloc's options, read at its first allocation (before `main`);
    /// the environment's `_RJEM_MALLOC_CONF` is read after them and wins.
    #[used]
    #[unsafe(export_name = "_rjem_malloc_conf")]
    static MALLOC_CONF: &u8 = &super::JEMALLOC_CONF[0];

    /// `arena.<all>.purge`: every arena's unused dirty pages back to the
    /// system now, instead of after their decay time.
    pub(super) fn purge() {
        // MALLCTL_ARENAS_ALL in jemalloc.h.
        const NAME: &[u8] = b"arena.4096.purge\0";
        // SAFETY: a documented mallctl that takes and returns nothing, with
        // a NUL-terminated name and null pointers for both.
        unsafe {
            tikv_jemalloc_sys::mallctl(
                NAME.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            );
        }
    }
}

#[cfg(all(test, not(target_env = "msvc")))]
mod tests {
    /// Reads a jemalloc option through `mallctl`.
    fn opt<T: Copy + Default>(name: &str) -> T {
        let name = std::ffi::CString::new(name).unwrap();
        let mut value = T::default();
        let mut size = std::mem::size_of::<T>();
        // SAFETY: `value` has the option's type and `size` its size.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&raw mut value).cast(),
                &mut size,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(rc, 0, "mallctl {name:?}");
        value
    }

    /// The options are jemalloc's only if the symbol it reads them from is
    /// linked under its name: a build that lost it would run on
    /// jemalloc's defaults (four arenas per core, 32 KiB thread caches)
    /// and hold ~75 % more memory at the peak without any error.
    #[test]
    fn jemalloc_runs_with_our_options() {
        // The environment's options win over ours (see the module doc).
        if std::env::var_os("_RJEM_MALLOC_CONF").is_some() {
            return;
        }
        assert_eq!(opt::<u32>("opt.narenas"), 1);
        assert_eq!(opt::<usize>("opt.tcache_max"), 512);
        assert_eq!(opt::<isize>("opt.dirty_decay_ms"), 300);
        assert_eq!(opt::<isize>("opt.muzzy_decay_ms"), 0);
        // And the Rust heap is jemalloc's: its count of allocated bytes
        // moves with a Rust allocation.
        // (A per-thread counter, kept without `stats`.)
        let allocated = || opt::<u64>("thread.allocated");
        let before = allocated();
        let block = std::hint::black_box(vec![7u8; 1 << 20]);
        assert!(allocated() >= before + (1 << 20));
        drop(block);
        super::release();
    }
}
