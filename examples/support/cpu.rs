//! The calling thread's CPU time, for the examples that measure one piece
//! of work in-process (`record_codec`, `fulltext_tick`, `outlets_render`, `chain_cost`).
//! No libc crate: one syscall.

/// CPU seconds the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: plain syscall with a valid pointer; 3 is CLOCK_THREAD_CPUTIME_ID.
    unsafe {
        clock_gettime(3, &mut ts);
    }
    ts.sec as f64 + ts.nsec as f64 / 1e9
}
