//! CPU time, for the examples that measure one piece of work in-process
//! (`record_codec`, `fulltext_tick`, `outlets_render`, `chain_cost`,
//! `crate_floor`). No libc crate: one syscall.

/// CPU seconds the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`).
#[allow(dead_code)]
pub fn thread_cpu() -> f64 {
    clock_seconds(3)
}

/// CPU seconds the whole process has used, every thread
/// (`CLOCK_PROCESS_CPUTIME_ID`): for work spread over a runtime's and a
/// library's own threads.
#[allow(dead_code)]
pub fn process_cpu() -> f64 {
    clock_seconds(2)
}

fn clock_seconds(clock: i32) -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: plain syscall with a valid pointer and one of the CPU clocks.
    unsafe {
        clock_gettime(clock, &mut ts);
    }
    ts.sec as f64 + ts.nsec as f64 / 1e9
}
