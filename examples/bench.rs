//! The benchmark driver: every measure next to a lower bound measured in the
//! same run, as medians of several runs. Prints Markdown tables.
//!
//! ```sh
//! scripts/bench            # builds in release, installs wrk, runs this
//! target/release/examples/bench --sizes 100,1000 --runs 5 --render 10000,100000,1000000
//! ```
//!
//! Sections (each bounded in time):
//! - `ingest`: parse alone and parse + canonicalise + dedup + store, from
//!   in-memory documents, against a bare XML tokeniser (quick-xml events);
//! - `poll`: the real `feedwire poll-once` against the feed farm (a child
//!   process), cold (empty store) and warm (every feed answers 304), against
//!   a plain reqwest loop fetching the same URLs with the same concurrency;
//! - `daemon`: the real `feedwire run` polling the farm from an empty store
//!   (time to the first full round, resident memory), then serving
//!   `/politics.rss` under wrk (200 gzip and 304) against a minimal axum
//!   server answering the same bytes;
//! - `render`: `render_all` and the newest-items read with 10k, 100k and 1M
//!   items stored (render cost must not grow with the store), the store's
//!   size on disk, and the daemon's start-up time and resident memory on it;
//! - `scale` (only with `--only scale`; `scripts/bench-100k`): the real
//!   `feedwire run` on a farm of N small feeds that change by rounds
//!   (`feedfarm --small`): a cold round, then `--scale-rounds R` (default 2)
//!   rounds where `--scale-share S` (0.2) of the documents changed; per
//!   round wall, CPU-s, RSS, requests and items; then `/status.json`,
//!   `/metrics` and `/` with N feeds, and a restart on the store. Options
//!   `--scale-sizes N,N` (default 10000,100000), `--scale-first SECS` and
//!   `--scale-period SECS` (the farm's round lengths; default N/250 and
//!   N/500 seconds, at least 60).
//!
//! Options: `--sizes N,N` (farm sizes for `poll`), `--runs R`, `--runs-large
//! R` (runs at N >= 10,000), `--render L,L` (store sizes), `--serve-secs S`
//! (per wrk run), `--daemon-n N` (farm size for the daemon section),
//! `--only SECTION,...`, `--work DIR` (scratch space, default a temp dir),
//! `--keep-store` (keep the scratch space and the render section's store),
//! `--bin PATH` (the feedwire binary), `--farm PATH` (the feedfarm binary).

#[path = "support/farm.rs"]
mod farm;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use feedwire::config::Config;
use feedwire::item::{Item, ItemKey};
use feedwire::store::Store;

// ---------------------------------------------------------------------------
// Child processes with their resource usage (wait4), without a libc crate.

#[repr(C)]
#[derive(Default)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    maxrss_kb: i64,
    rest: [i64; 13],
}

#[repr(C)]
#[derive(Default)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

/// CPU time (user + system) of this process, all threads, in seconds.
fn process_cpu() -> f64 {
    let mut ru = Rusage::default();
    // SAFETY: plain syscall with a valid pointer; 0 is RUSAGE_SELF.
    unsafe {
        getrusage(0, &mut ru);
    }
    let secs = |t: [i64; 2]| t[0] as f64 + t[1] as f64 / 1e6;
    secs(ru.utime) + secs(ru.stime)
}

/// CPU time of the calling thread, in seconds: unlike wall time, it does not
/// grow when other processes take the cores.
fn thread_cpu() -> f64 {
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec::default();
    // SAFETY: plain syscall with a valid pointer.
    unsafe {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts);
    }
    ts.sec as f64 + ts.nsec as f64 / 1e9
}

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;

/// How a finished child ran.
struct Finished {
    wall: f64,
    cpu: f64,
    maxrss_mb: f64,
    exit: i32,
}

/// Reaps `child` with its resource usage. `child` must not be waited on
/// through std afterwards.
fn reap(child: &Child, started: Instant) -> Finished {
    let mut status = 0i32;
    let mut ru = Rusage::default();
    // SAFETY: plain syscall on our own child's pid with valid pointers.
    let r = unsafe { wait4(child.id() as i32, &mut status, 0, &mut ru) };
    assert_eq!(r, child.id() as i32, "wait4 failed");
    let wall = started.elapsed().as_secs_f64();
    let secs = |t: [i64; 2]| t[0] as f64 + t[1] as f64 / 1e6;
    Finished {
        wall,
        cpu: secs(ru.utime) + secs(ru.stime),
        maxrss_mb: ru.maxrss_kb as f64 / 1024.0,
        exit: if status & 0x7f == 0 {
            (status >> 8) & 0xff
        } else {
            128 + (status & 0x7f)
        },
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: plain syscall on our own child's pid.
    unsafe {
        kill(child.id() as i32, sig);
    }
}

/// `bench --measure FILE CMD ARGS...`: runs CMD with this process's stdio
/// and writes `wall cpu maxrss_mb exit` to FILE. Linux carries the parent's
/// RSS high-water mark over `fork` + `exec` into the child's `ru_maxrss`, so
/// the driver (hundreds of MB of farm documents) does not spawn measured
/// commands itself: this small fresh process does.
fn measure_main(args: &[String]) -> ! {
    let (file, cmd) = (&args[0], &args[1..]);
    let started = Instant::now();
    let child = Command::new(&cmd[0]).args(&cmd[1..]).spawn().expect("spawning");
    let f = reap(&child, started);
    std::fs::write(file, format!("{} {} {} {}", f.wall, f.cpu, f.maxrss_mb, f.exit)).expect("writing");
    std::process::exit(f.exit)
}

/// Runs `program args` to completion through `bench --measure`: its stdout,
/// and how it ran. stderr goes to `log`.
fn run_measured(
    program: &Path,
    args: &[&std::ffi::OsStr],
    envs: &[(&str, &str)],
    log: &Path,
) -> (String, Finished) {
    let stats = log.with_extension("rusage");
    let log = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.arg("--measure").arg(&stats).arg(program).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .stdin(Stdio::null())
        .spawn()
        .expect("spawning");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("reading stdout");
    child.wait().expect("waiting");
    let text = std::fs::read_to_string(&stats).expect("rusage file");
    let v: Vec<f64> = text
        .split_whitespace()
        .map(|x| x.parse().expect("number"))
        .collect();
    let f = Finished {
        wall: v[0],
        cpu: v[1],
        maxrss_mb: v[2],
        exit: v[3] as i32,
    };
    (out, f)
}

/// VmRSS and VmHWM of a process, in MB.
fn proc_mem(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

// ---------------------------------------------------------------------------
// Statistics and tables.

fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn spread(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{} ({}–{})", secs(median(v)), secs(min), secs(max))
}

fn secs(s: f64) -> String {
    if s < 0.01 {
        format!("{:.2} ms", s * 1e3)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn num(x: f64) -> String {
    if x >= 100.0 {
        let s = format!("{x:.0}");
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// A count with thousands separators: `num` gives small values decimals
/// (a round's "0.00" 304s).
fn count(x: u64) -> String {
    if x >= 100 {
        num(x as f64)
    } else {
        x.to_string()
    }
}

struct Report {
    out: String,
}

impl Report {
    fn line(&mut self, s: impl AsRef<str>) {
        println!("{}", s.as_ref());
        self.out.push_str(s.as_ref());
        self.out.push('\n');
        let _ = std::io::stdout().flush();
    }

    fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        self.line(format!("| {} |", header.join(" | ")));
        self.line(format!(
            "|{}|",
            header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
        ));
        for r in rows {
            self.line(format!("| {} |", r.join(" | ")));
        }
        self.line("");
    }
}

fn note(s: impl AsRef<str>) {
    eprintln!("[bench] {}", s.as_ref());
}

// ---------------------------------------------------------------------------
// Options.

struct Opts {
    sizes: Vec<usize>,
    runs: usize,
    runs_large: usize,
    render: Vec<usize>,
    serve_secs: u64,
    serve_runs: usize,
    daemon_n: usize,
    only: Option<HashSet<String>>,
    work: PathBuf,
    bin: PathBuf,
    farm: PathBuf,
    out: Option<PathBuf>,
    /// Keep the render section's store (for profiling) instead of deleting it.
    keep_store: bool,
    /// `scale`: farm sizes, churn rounds after the cold one, share of
    /// feeds changed per round, and the farm's round lengths (seconds).
    scale_sizes: Vec<usize>,
    scale_rounds: usize,
    scale_share: f64,
    scale_first: Option<u64>,
    scale_period: Option<u64>,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let list = |name: &str, default: &str| -> Vec<usize> {
        get(name)
            .unwrap_or_else(|| default.into())
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.trim().replace('_', "").parse().expect("a number"))
            .collect()
    };
    let exe = std::env::current_exe().expect("current exe");
    let examples = exe.parent().expect("examples dir").to_owned();
    let profile = examples.parent().expect("profile dir").to_owned();
    let work = get("--work")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("feedwire-bench-{}", std::process::id())));
    Opts {
        sizes: list("--sizes", "100,1000,10000"),
        runs: get("--runs").map_or(5, |v| v.parse().expect("runs")),
        runs_large: get("--runs-large").map_or(3, |v| v.parse().expect("runs")),
        render: list("--render", "10000,100000,1000000"),
        serve_secs: get("--serve-secs").map_or(5, |v| v.parse().expect("secs")),
        serve_runs: get("--serve-runs").map_or(3, |v| v.parse().expect("runs")),
        daemon_n: get("--daemon-n").map_or(1000, |v| v.parse().expect("n")),
        only: get("--only").map(|s| s.split(',').map(str::to_owned).collect()),
        work,
        bin: get("--bin")
            .map(PathBuf::from)
            .unwrap_or_else(|| profile.join("feedwire")),
        farm: get("--farm")
            .map(PathBuf::from)
            .unwrap_or_else(|| examples.join("feedfarm")),
        out: get("--out").map(PathBuf::from),
        keep_store: args.iter().any(|a| a == "--keep-store"),
        scale_sizes: list("--scale-sizes", "10000,100000"),
        scale_rounds: get("--scale-rounds").map_or(2, |v| v.parse().expect("rounds")),
        scale_share: get("--scale-share").map_or(0.2, |v| v.parse().expect("share")),
        scale_first: get("--scale-first").map(|v| v.parse().expect("secs")),
        scale_period: get("--scale-period").map(|v| v.parse().expect("secs")),
    }
}

impl Opts {
    fn wants(&self, section: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.contains(section))
    }
}

/// One section of the benchmark.
type Section = fn(&Opts, &mut Report);

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--measure") {
        measure_main(&args[1..]);
    }
    // reqwest is built without a default crypto provider (as in `fetch`).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let o = opts();
    std::fs::create_dir_all(&o.work).expect("work dir");
    let mut rep = Report { out: String::new() };
    let t0 = Instant::now();
    let sections: [(&str, Section); 4] = [
        ("ingest", ingest_section),
        ("poll", poll_section),
        ("render", render_section),
        ("scale", scale_section),
    ];
    for (name, section) in sections {
        // `scale` runs for tens of minutes: only when asked for by name.
        let asked = o.only.as_ref().is_some_and(|only| only.contains(name));
        if (name != "scale" && o.wants(name)) || asked || (name == "poll" && o.wants("daemon")) {
            let before = loadavg();
            let t = Instant::now();
            section(&o, &mut rep);
            rep.line(format!(
                "_Section {name}: {:.0} s; load average (1/5/15 min) before {before}, after {}._\n",
                t.elapsed().as_secs_f64(),
                loadavg()
            ));
        }
    }
    rep.line(format!("_Driver total: {:.0} s._", t0.elapsed().as_secs_f64()));
    if let Some(out) = &o.out {
        std::fs::write(out, &rep.out).expect("writing --out");
    }
    if !o.keep_store {
        let _ = std::fs::remove_dir_all(&o.work);
    }
}

// ---------------------------------------------------------------------------
// Ingest: no network.

/// The farm's documents parsed as the poller would (feed URLs on `port`).
fn parse_farm(f: &farm::Farm, port: u16) -> Vec<Item> {
    f.feeds
        .iter()
        .flat_map(|d| {
            d.parse(&url::Url::parse(&f.url(d.index, port)).expect("url"))
                .items
        })
        .collect()
}

/// Runs `work` over the documents split between `threads` threads.
/// Wall and CPU seconds (the whole process: sled's own threads count).
fn split_run<F>(docs: &[&farm::FeedDoc], threads: usize, work: F) -> (f64, f64)
where
    F: Fn(&farm::FeedDoc) + Sync,
{
    let chunk = docs.len().div_ceil(threads);
    let (t, c) = (Instant::now(), process_cpu());
    std::thread::scope(|s| {
        for part in docs.chunks(chunk) {
            let work = &work;
            s.spawn(move || part.iter().for_each(|d| work(d)));
        }
    });
    (t.elapsed().as_secs_f64(), process_cpu() - c)
}

fn xml_scan(body: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return events,
            Ok(_) => events += 1,
            Err(e) => panic!("farm XML does not tokenise: {e}"),
        }
    }
}

fn ingest_section(o: &Opts, rep: &mut Report) {
    let n = 1000;
    note(format!("ingest: generating {n} feeds in memory"));
    let f = farm::Farm::generate(n, n);
    let docs: Vec<&farm::FeedDoc> = f.feeds.iter().collect();
    let mb = f.total_bytes as f64 / 1e6;
    let items = f.total_items as f64;
    let urls: Vec<url::Url> = (0..n)
        .map(|i| url::Url::parse(&f.url(i, 1)).expect("url"))
        .collect();
    let parse = |d: &farm::FeedDoc| d.parse(&urls[d.index]);
    let runs = o.runs.max(3);
    // Documents parsed once, for the store-alone rows.
    let parsed: Vec<Vec<Item>> = docs.iter().map(|d| parse(d).items).collect();
    let mut rows = Vec::new();
    let mut stored_check = String::new();
    for threads in [1usize, 2] {
        let scan: Vec<(f64, f64)> = (0..runs)
            .map(|_| {
                split_run(&docs, threads, |d| {
                    std::hint::black_box(xml_scan(&d.body));
                })
            })
            .collect();
        let parse_t: Vec<(f64, f64)> = (0..runs)
            .map(|_| {
                split_run(&docs, threads, |d| {
                    std::hint::black_box(parse(d));
                })
            })
            .collect();
        let ingest_t: Vec<(f64, f64)> = (0..runs)
            .map(|r| {
                let dir = o.work.join(format!("ingest-{threads}-{r}"));
                let store = Store::open(&dir).expect("store");
                let t = split_run(&docs, threads, |d| {
                    let parsed = parse(d);
                    store.ingest(&parsed.items).expect("ingest");
                });
                store.flush().expect("flush");
                let stored = store.item_count();
                if stored != f.expected_distinct {
                    stored_check = format!(
                        "**MISMATCH: stored {stored}, farm generated {} distinct stories**",
                        f.expected_distinct
                    );
                } else if stored_check.is_empty() {
                    stored_check = format!(
                        "stored {stored} = {} distinct stories generated: OK",
                        f.expected_distinct
                    );
                }
                drop(store);
                let _ = std::fs::remove_dir_all(&dir);
                t
            })
            .collect();
        let store_t: Vec<(f64, f64)> = (0..runs)
            .map(|r| {
                let dir = o.work.join(format!("store-{threads}-{r}"));
                let store = Store::open(&dir).expect("store");
                let t = split_run(&docs, threads, |d| {
                    store.ingest(&parsed[d.index]).expect("ingest");
                });
                store.flush().expect("flush");
                assert_eq!(store.item_count(), f.expected_distinct);
                drop(store);
                let _ = std::fs::remove_dir_all(&dir);
                t
            })
            .collect();
        let plural = if threads > 1 { "s" } else { "" };
        let lb_cpu = median(&scan.iter().map(|r| r.1).collect::<Vec<_>>());
        for (label, v) in [
            (format!("XML tokenise only (lower bound), {threads} thread{plural}"), &scan),
            (format!("parse alone, {threads} thread{plural}"), &parse_t),
            (
                format!("store alone: `Store::ingest` of parsed items (dedup + group commit), {threads} thread{plural}"),
                &store_t,
            ),
            (
                format!("ingest: parse + canonicalise + dedup + store, {threads} thread{plural}"),
                &ingest_t,
            ),
        ] {
            let walls: Vec<f64> = v.iter().map(|r| r.0).collect();
            let (w, c) = (median(&walls), median(&v.iter().map(|r| r.1).collect::<Vec<_>>()));
            rows.push(vec![
                label,
                spread(&walls),
                num(mb / w),
                num(items / w),
                format!("{c:.2} s"),
                num(mb / c),
                format!("{:.1}", c / lb_cpu),
            ]);
        }
    }
    rep.line(format!(
        "### Ingest without network ({n} farm documents, {mb:.1} MB of XML, {} items, {} distinct; median of {runs})\n",
        f.total_items, f.expected_distinct
    ));
    rep.table(
        &[
            "measure",
            "wall, median (min–max)",
            "MB/s (wall)",
            "items/s (wall)",
            "CPU (process)",
            "MB per CPU-second",
            "× lower bound (CPU)",
        ],
        &rows,
    );
    rep.line(format!("Dedup check: {stored_check}.\n"));
}

// ---------------------------------------------------------------------------
// Poll: the real binary against the farm.

struct FarmProc {
    child: Child,
    config_text: String,
    summary: String,
    stats_url: String,
    expected: usize,
}

impl FarmProc {
    fn start(o: &Opts, n: usize) -> FarmProc {
        let dir = o.work.join(format!("farm-{n}"));
        std::fs::create_dir_all(&dir).expect("farm dir");
        let config = dir.join("feeds.toml");
        let mut child = Command::new(&o.farm)
            .arg(n.to_string())
            .args(["--config", config.to_str().expect("utf-8 path")])
            .args(["--max-secs", "1800"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e} (build with --examples)", o.farm.display()));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let summary = lines.next().expect("farm summary").expect("farm output");
        let ready = lines.next().expect("farm ready line").expect("farm output");
        let url = ready.strip_prefix("ready ").expect("ready line");
        let u = url::Url::parse(url).expect("farm url");
        let port = u.port().expect("port");
        let field = |after: &str| -> f64 {
            summary
                .split(", ")
                .find(|p| p.ends_with(after))
                .and_then(|p| p.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        FarmProc {
            config_text: std::fs::read_to_string(&config).expect("farm config"),
            stats_url: format!("http://{}:{port}/stats", u.host_str().expect("host")),
            expected: field("distinct stories") as usize,
            summary,
            child,
        }
    }

    fn urls(&self) -> Vec<String> {
        self.config_text
            .lines()
            .filter_map(|l| l.strip_prefix("url = \""))
            .map(|l| l.trim_end_matches('"').to_owned())
            .collect()
    }

    fn stats(&self) -> (u64, u64) {
        let body = runtime(1).block_on(async {
            reqwest::get(&self.stats_url)
                .await
                .expect("farm stats")
                .text()
                .await
                .expect("farm stats")
        });
        let get = |k: &str| {
            body.split_whitespace()
                .find_map(|p| p.strip_prefix(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (get("200="), get("304="))
    }
}

impl Drop for FarmProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

struct LbRun {
    wall: f64,
    bytes: u64,
    ok: usize,
    not_modified: usize,
    etags: Vec<Option<String>>,
}

/// The lower bound: the same URLs, the same concurrency, the same client
/// settings as `fetch` (compression, no redirects), bodies read and dropped.
fn lower_bound(urls: &[String], etags: Option<&[Option<String>]>, concurrency: usize) -> LbRun {
    let rt = runtime(std::thread::available_parallelism().map_or(2, |p| p.get()));
    rt.block_on(async {
        let t = Instant::now();
        let client = reqwest::Client::builder()
            .user_agent("feedwire-bench-lower-bound")
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .expect("client");
        let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let mut set = tokio::task::JoinSet::new();
        for (i, u) in urls.iter().enumerate() {
            let (client, sem, u) = (client.clone(), sem.clone(), u.clone());
            let etag = etags.and_then(|e| e[i].clone());
            set.spawn(async move {
                let _permit = sem.acquire_owned().await.expect("semaphore");
                let mut req = client.get(&u);
                if let Some(e) = etag {
                    req = req.header(reqwest::header::IF_NONE_MATCH, e);
                }
                let resp = req.send().await.expect("lower-bound fetch");
                let status = resp.status().as_u16();
                let etag = resp
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = resp.bytes().await.expect("lower-bound body");
                (i, status, etag, body.len() as u64)
            });
        }
        let mut run = LbRun {
            wall: 0.0,
            bytes: 0,
            ok: 0,
            not_modified: 0,
            etags: vec![None; urls.len()],
        };
        while let Some(r) = set.join_next().await {
            let (i, status, etag, len) = r.expect("task");
            match status {
                200 => run.ok += 1,
                304 => run.not_modified += 1,
                s => panic!("lower bound got HTTP {s}"),
            }
            run.bytes += len;
            run.etags[i] = etag;
        }
        run.wall = t.elapsed().as_secs_f64();
        run
    })
}

/// `poll-once`'s summary line.
struct PollOnce {
    f: Finished,
    ok: usize,
    failed: usize,
    not_modified: usize,
    new: usize,
    duplicate: usize,
    stored: usize,
}

fn poll_once(o: &Opts, config: &Path, log: &Path) -> PollOnce {
    let (out, f) = run_measured(
        &o.bin,
        &["poll-once".as_ref(), "--config".as_ref(), config.as_os_str()],
        &[("RUST_LOG", "warn")],
        log,
    );
    let last = out
        .lines()
        .find(|l| l.starts_with("feeds: "))
        .unwrap_or_else(|| panic!("no summary from poll-once (exit {}): {out}", f.exit));
    // "feeds: X ok (Y not modified), Z failed; items: A new, B duplicate; S items stored"
    let nums: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect();
    assert_eq!(nums.len(), 6, "unexpected summary: {last}");
    PollOnce {
        f,
        ok: nums[0],
        not_modified: nums[1],
        failed: nums[2],
        new: nums[3],
        duplicate: nums[4],
        stored: nums[5],
    }
}

/// A daemon's poll round on a warm store, in-process: `poll_all` with the
/// daemon's own context, no render (the daemon renders only on change).
fn library_warm(config: &Path, n: usize) -> f64 {
    let config = Config::load(config).expect("config");
    let store = Store::open(&config.storage.path).expect("store");
    let rt = runtime(std::thread::available_parallelism().map_or(2, |p| p.get()));
    let t = Instant::now();
    let report = rt.block_on(async {
        let fetcher = feedwire::fetch::Fetcher::new(&config.poll).expect("fetcher");
        let ctx = feedwire::poller::PollContext::new(
            store.clone(),
            fetcher,
            Arc::new(feedwire::clock::SystemClock),
            &config,
        );
        feedwire::poller::poll_all(&ctx, &config).await.0
    });
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(report.not_modified, n, "library warm poll: every feed 304");
    drop(rt);
    drop(store);
    wall
}

fn poll_section(o: &Opts, rep: &mut Report) {
    let concurrency = 16;
    let mut cold_rows = Vec::new();
    let mut warm_rows = Vec::new();
    let mut checks = Vec::new();
    let mut farm_lines = Vec::new();
    let mut daemon_out = None;
    let sizes: Vec<usize> = if o.wants("poll") {
        o.sizes.clone()
    } else {
        vec![o.daemon_n]
    };
    for &n in &sizes {
        let runs = if n >= 10_000 { o.runs_large } else { o.runs };
        note(format!("poll: starting the farm with {n} feeds"));
        let fp = FarmProc::start(o, n);
        farm_lines.push(fp.summary.clone());
        let urls = fp.urls();
        assert_eq!(urls.len(), n);
        if o.wants("poll") {
            let (mut lbc, mut lbw, mut cold, mut warm) = (vec![], vec![], vec![], vec![]);
            let (mut rss_cold, mut rss_warm, mut cpu_cold, mut cpu_warm) = (vec![], vec![], vec![], vec![]);
            let mut lib_warm = vec![];
            let mut lb_bytes = 0;
            let mut items = 0;
            let mut stored_ok = true;
            let mut warm_304 = true;
            for r in 0..runs {
                note(format!("poll: N={n} run {}/{runs}", r + 1));
                let lb = lower_bound(&urls, None, concurrency);
                assert_eq!(lb.ok, n, "lower bound: every feed 200");
                lb_bytes = lb.bytes;
                lbc.push(lb.wall);

                let dir = o.work.join(format!("poll-{n}-{r}"));
                std::fs::create_dir_all(&dir).expect("run dir");
                let config = dir.join("feeds.toml");
                std::fs::write(&config, &fp.config_text).expect("config");
                let c = poll_once(o, &config, &dir.join("cold.log"));
                assert_eq!(c.failed, 0, "cold poll: failures (see {})", dir.display());
                assert_eq!(c.ok, n);
                items = c.new + c.duplicate;
                if c.stored != fp.expected {
                    stored_ok = false;
                    checks.push(format!(
                        "N={n} run {r}: **stored {} ≠ {} distinct stories generated**",
                        c.stored, fp.expected
                    ));
                }
                cold.push(c.f.wall);
                rss_cold.push(c.f.maxrss_mb);
                cpu_cold.push(c.f.cpu);

                let before = fp.stats();
                let w = poll_once(o, &config, &dir.join("warm.log"));
                let after = fp.stats();
                assert_eq!(w.failed, 0);
                if w.not_modified != n || after.1 - before.1 != n as u64 || after.0 != before.0 {
                    warm_304 = false;
                }
                warm.push(w.f.wall);
                rss_warm.push(w.f.maxrss_mb);
                cpu_warm.push(w.f.cpu);

                lib_warm.push(library_warm(&config, n));

                let lw = lower_bound(&urls, Some(&lb.etags), concurrency);
                assert_eq!(lw.not_modified, n, "lower bound: every feed 304");
                lbw.push(lw.wall);
                let _ = std::fs::remove_dir_all(&dir);
            }
            if stored_ok {
                checks.push(format!(
                    "N={n}: stored = {} distinct stories generated, every run: OK",
                    fp.expected
                ));
            }
            checks.push(format!(
                "N={n}: warm polls answered 304 for every feed (counted by the farm): {}",
                if warm_304 { "OK" } else { "**NO**" }
            ));
            let (c, l) = (median(&cold), median(&lbc));
            cold_rows.push(vec![
                num(n as f64),
                format!("{:.1} MB / {}", lb_bytes as f64 / 1e6, num(items as f64)),
                spread(&lbc),
                spread(&cold),
                format!("**{:.2}**", c / l),
                num(n as f64 / c),
                num(items as f64 / c),
                format!("{:.1}", median(&cpu_cold)),
                format!("{:.1}", median(&rss_cold)),
            ]);
            let (w, l, lw) = (median(&warm), median(&lbw), median(&lib_warm));
            warm_rows.push(vec![
                num(n as f64),
                spread(&lbw),
                spread(&lib_warm),
                format!("**{:.2}**", lw / l),
                spread(&warm),
                format!("{:.2}", w / l),
                num(n as f64 / l),
                num(n as f64 / lw),
                format!("{:.2}", median(&cpu_warm)),
                format!("{:.1}", median(&rss_warm)),
            ]);
        }
        if n == o.daemon_n && o.wants("daemon") {
            daemon_out = Some(daemon_section(o, &fp));
        }
        drop(fp);
    }
    if o.wants("poll") {
        rep.line("### Farms\n");
        for l in &farm_lines {
            rep.line(format!("- `{l}`"));
        }
        rep.line("");
        rep.line(format!(
            "### Cold poll: empty store → rendered merged feed (`feedwire poll-once`, concurrency {concurrency}; median (min–max) of {} runs, {} at N ≥ 10,000)\n",
            o.runs, o.runs_large
        ));
        rep.table(
            &[
                "feeds",
                "bytes / items fetched",
                "lower bound: reqwest loop",
                "poll-once",
                "× lower bound",
                "feeds/s",
                "items/s",
                "CPU s",
                "peak RSS MB",
            ],
            &cold_rows,
        );
        rep.line("### Warm poll: every feed answers 304 (same store, right after the cold poll)\n");
        rep.table(
            &[
                "feeds",
                "lower bound: conditional reqwest loop",
                "`poll_all` (library, what a daemon round does)",
                "× lower bound",
                "`poll-once` (process + store open + render)",
                "× lower bound",
                "lower bound req/s",
                "`poll_all` req/s",
                "poll-once CPU s",
                "poll-once peak RSS MB",
            ],
            &warm_rows,
        );
        rep.line("Checks:\n");
        for c in &checks {
            rep.line(format!("- {c}"));
        }
        rep.line("");
    }
    if let Some(d) = daemon_out {
        rep.line(d);
    }
}

// ---------------------------------------------------------------------------
// Daemon: polling memory and serving.

struct Daemon {
    child: Child,
    reaped: bool,
    started: Instant,
    lines: mpsc::Receiver<String>,
    port: u16,
}

impl Daemon {
    fn start(o: &Opts, config: &Path, port: u16, log: &Path) -> Daemon {
        let started = Instant::now();
        let mut child = Command::new(&o.bin)
            .arg("run")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("starting the daemon");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let mut log = std::fs::File::create(log).expect("daemon log");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
                let _ = tx.send(line);
            }
        });
        Daemon {
            child,
            reaped: false,
            started,
            lines: rx,
            port,
        }
    }

    /// Waits for a log line containing `what`; the time since start.
    fn wait_for(&self, what: &str, limit: Duration) -> f64 {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(what) => return self.started.elapsed().as_secs_f64(),
                Ok(_) => {}
                Err(_) => panic!("daemon: no {what:?} within {limit:?}"),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn stop(mut self) -> Finished {
        signal(&self.child, SIGTERM);
        let (tx, rx) = mpsc::channel();
        let pid = self.child.id();
        std::thread::spawn(move || {
            if rx.recv_timeout(Duration::from_secs(30)).is_err() {
                // SAFETY: plain syscall on our own child's pid.
                unsafe {
                    kill(pid as i32, SIGKILL);
                }
            }
        });
        let f = reap(&self.child, self.started);
        self.reaped = true;
        let _ = tx.send(());
        f
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.reaped {
            signal(&self.child, SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// `config_text` with the listen address and store path set.
fn daemon_config(text: &str, port: u16, store: &str, first_poll_spread: &str) -> String {
    text.replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    )
    .replace("path = \"data\"", &format!("path = {store:?}"))
    .replace(
        "first_poll_spread = \"0s\"",
        &format!("first_poll_spread = {first_poll_spread:?}"),
    )
}

fn daemon_section(o: &Opts, fp: &FarmProc) -> String {
    let n = fp.urls().len();
    let dir = o.work.join("daemon");
    std::fs::create_dir_all(&dir).expect("daemon dir");
    let port = free_port();
    let config = dir.join("feeds.toml");
    std::fs::write(&config, daemon_config(&fp.config_text, port, "data", "0s")).expect("config");
    note(format!("daemon: polling {n} feeds from an empty store"));
    let d = Daemon::start(o, &config, port, &dir.join("daemon.log"));
    // Sample resident memory while the first round runs.
    let pid = d.child.id();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let sampler = std::thread::spawn(move || {
        let mut max: f64 = 0.0;
        while stop_rx.recv_timeout(Duration::from_millis(20)).is_err() {
            let (rss, _) = proc_mem(pid);
            if rss.is_finite() {
                max = max.max(rss);
            }
        }
        max
    });
    let round = d.wait_for("Poll round done.", Duration::from_secs(300));
    let _ = stop_tx.send(());
    let sampled_max = sampler.join().expect("sampler");
    // Let the renderer finish the last render triggered by the round.
    std::thread::sleep(Duration::from_secs(2));
    let (rss_after, hwm_after) = proc_mem(pid);

    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "### Daemon: `feedwire run` polling {n} farm feeds from an empty store\n"
    ));
    line("| measure | value |\n|---|---|".into());
    line(format!(
        "| start → first round done (log line `Poll round done.`) | {} |",
        secs(round)
    ));
    line(format!(
        "| resident memory while polling: max VmRSS sampled every 20 ms | {sampled_max:.1} MB |"
    ));
    line(format!(
        "| peak resident memory (VmHWM) after the round and its renders | {hwm_after:.1} MB |"
    ));
    line(format!(
        "| resident memory (VmRSS) 2 s after the round | {rss_after:.1} MB |"
    ));
    line(String::new());

    let serving = serving_bench(o, &d);
    let (rss_serve, hwm_serve) = proc_mem(pid);
    let f = d.stop();
    line(serving);
    line(format!(
        "Daemon memory after serving: VmRSS {rss_serve:.1} MB, VmHWM {hwm_serve:.1} MB; stopped with SIGTERM: exit {}, CPU {:.1} s in all.\n",
        f.exit, f.cpu
    ));
    let _ = std::fs::remove_dir_all(&dir);
    out
}

struct Wrk {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx3xx: u64,
    requests: u64,
}

fn latency_ms(s: &str) -> f64 {
    let s = s.trim();
    let (v, mult) = if let Some(v) = s.strip_suffix("us") {
        (v, 1e-3)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e3)
    } else {
        (s, f64::NAN)
    };
    v.parse::<f64>().map_or(f64::NAN, |x| x * mult)
}

fn wrk(url: &str, headers: &[String], secs: u64) -> Wrk {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        "-c64",
        &format!("-d{secs}s"),
        "--latency",
        "--timeout",
        "5s",
    ]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    cmd.arg(url);
    let out = cmd.output().expect("running wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let find = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Wrk {
        rps: find("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN),
        p50_ms: find("50%").map_or(f64::NAN, |v| latency_ms(&v)),
        p99_ms: find("99%").map_or(f64::NAN, |v| latency_ms(&v)),
        non_2xx3xx: find("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        requests,
    }
}

/// A minimal server answering every request with the same bytes and the
/// same headers as the daemon: the lower bound for this HTTP stack.
fn start_lb_server(
    body: bytes::Bytes,
    headers: Vec<(String, String)>,
    status: u16,
) -> (u16, std::thread::JoinHandle<()>, tokio::sync::oneshot::Sender<()>) {
    use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).expect("header"),
            HeaderValue::from_str(&v).expect("value"),
        );
    }
    let status = StatusCode::from_u16(status).expect("status");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = std::thread::spawn(move || {
        // The daemon runs tokio's default: one worker per core.
        let rt = runtime(std::thread::available_parallelism().map_or(2, |p| p.get()));
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let app = axum::Router::new().fallback(move || {
                let (h, body) = (h.clone(), body.clone());
                async move {
                    if status == StatusCode::NOT_MODIFIED {
                        (status, h).into_response()
                    } else {
                        (status, h, body).into_response()
                    }
                }
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .expect("lower-bound server");
        });
    });
    (port, handle, tx)
}

fn serving_bench(o: &Opts, d: &Daemon) -> String {
    let url = d.url("/politics.rss");
    // What a gzip-accepting reader gets, headers included.
    let (body, headers) = runtime(1).block_on(async {
        let client = reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .build()
            .expect("client");
        let resp = client
            .get(&url)
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .expect("GET /politics.rss");
        assert_eq!(resp.status(), 200);
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| *k != "content-length" && *k != "date")
            .map(|(k, v)| (k.to_string(), v.to_str().expect("ascii").to_owned()))
            .collect();
        (resp.bytes().await.expect("body"), headers)
    });
    let etag = headers
        .iter()
        .find(|(k, _)| k == "etag")
        .map(|(_, v)| v.clone())
        .expect("an ETag");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-encoding" && v == "gzip"),
        "gzip served"
    );
    let gz = vec!["Accept-Encoding: gzip".to_owned()];
    let inm = vec![
        "Accept-Encoding: gzip".to_owned(),
        format!("If-None-Match: {etag}"),
    ];
    let mut rows = Vec::new();
    for (label, hdrs, status) in [("200, gzip", &gz, 200u16), ("304 (If-None-Match)", &inm, 304)] {
        let (lb_port, lb_thread, lb_stop) = start_lb_server(body.clone(), headers.clone(), status);
        let lb_url = format!("http://127.0.0.1:{lb_port}/politics.rss");
        let (mut dr, mut lr) = (vec![], vec![]);
        for r in 0..o.serve_runs {
            note(format!("serving: {label} run {}/{}", r + 1, o.serve_runs));
            lr.push(wrk(&lb_url, hdrs, o.serve_secs));
            dr.push(wrk(&url, hdrs, o.serve_secs));
        }
        let _ = lb_stop.send(());
        let _ = lb_thread.join();
        let m = |v: &[Wrk], f: fn(&Wrk) -> f64| median(&v.iter().map(f).collect::<Vec<_>>());
        let errors: u64 = dr.iter().chain(&lr).map(|w| w.non_2xx3xx).sum();
        let total: u64 = dr.iter().map(|w| w.requests).sum();
        rows.push(vec![
            label.to_owned(),
            if status == 200 {
                format!("{} B gzip", num(body.len() as f64))
            } else {
                "none".into()
            },
            num(m(&lr, |w| w.rps)),
            num(m(&dr, |w| w.rps)),
            format!("**{:.2}**", m(&lr, |w| w.rps) / m(&dr, |w| w.rps)),
            format!("{:.2} / {:.2}", m(&lr, |w| w.p50_ms), m(&lr, |w| w.p99_ms)),
            format!("{:.2} / {:.2}", m(&dr, |w| w.p50_ms), m(&dr, |w| w.p99_ms)),
            format!("{} of {}", errors, num(total as f64)),
        ]);
    }
    let mut out = format!(
        "### Serving `/politics.rss` (wrk -t2 -c64 -d{}s --latency on 127.0.0.1, median of {} runs; wrk shares the 2 cores)\n\n",
        o.serve_secs, o.serve_runs
    );
    out.push_str("| request | body | lower bound req/s (minimal axum, same bytes) | feedwire req/s | lower bound ÷ feedwire | lower bound p50 / p99 ms | feedwire p50 / p99 ms | non-2xx/3xx |\n|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}

// ---------------------------------------------------------------------------
// Render and store scale.

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = match e.metadata() {
                Ok(m) => m,
                Err(_) => continue,
            };
            if m.is_dir() {
                total += dir_size(&e.path());
            } else {
                // Allocated blocks, like du.
                use std::os::unix::fs::MetadataExt;
                total += m.blocks() * 512;
            }
        }
    }
    total
}

fn render_section(o: &Opts, rep: &mut Report) {
    let n = 1000;
    note("render: parsing 1000 farm feeds as templates");
    let f = farm::Farm::generate(n, n);
    let port = 1;
    let mut seen = HashSet::new();
    let templates: Vec<Item> = parse_farm(&f, port)
        .into_iter()
        .filter(|i| seen.insert(i.key.clone()))
        .collect();
    let t_count = templates.len();
    let dir = o.work.join("scale");
    std::fs::create_dir_all(&dir).expect("scale dir");
    let config_path = dir.join("feeds.toml");
    let daemon_port = free_port();
    // The daemon started on this store later must not poll (port 1 is shut).
    let text = daemon_config(
        &f.config_toml(port, "store", "127.0.0.1:0", 16),
        daemon_port,
        "store",
        "24h",
    );
    std::fs::write(&config_path, text).expect("config");
    let config = Config::load(&config_path).expect("bench config");
    let feeds: HashSet<String> = config.feeds.iter().map(|f| f.url.to_string()).collect();
    let store = Store::open(&config.storage.path).expect("store");
    let mut filled = 0usize;
    let mut raw_bytes = 0u64;
    let mut rows = Vec::new();
    let mut fill_rows = Vec::new();
    let mut base_render = f64::NAN;
    let mut base_read = f64::NAN;
    let mut levels = o.render.clone();
    levels.sort_unstable();
    let batch = 1000;
    for &level in &levels {
        note(format!("render: filling the store to {level} items"));
        let t = Instant::now();
        let start = filled;
        while filled < level {
            let end = (filled + batch).min(level);
            let items: Vec<Item> = (filled..end)
                .map(|j| {
                    let (tpl, copy) = (&templates[j % t_count], j / t_count);
                    let mut it = tpl.clone();
                    if copy > 0 {
                        let link = it.link.as_deref().expect("farm items have links");
                        let sep = if link.contains('?') { '&' } else { '?' };
                        let link = format!("{link}{sep}copy={copy}");
                        it.key = ItemKey::from_link(&url::Url::parse(&link).expect("link"));
                        it.link = Some(link);
                        // Older copies: the newest items stay the originals.
                        it.date -= copy as i64 * 8 * 86_400;
                        it.first_seen -= copy as i64 * 8 * 86_400;
                    }
                    raw_bytes += (postcard::to_stdvec(&it).expect("postcard").len()
                        + 1
                        + 2 * it.key.as_str().len()
                        + 8) as u64;
                    it
                })
                .collect();
            let r = store.ingest(&items).expect("ingest");
            assert_eq!(r.new, items.len(), "fill items are all new");
            filled = end;
        }
        store.flush().expect("flush");
        let fill = t.elapsed().as_secs_f64();
        assert_eq!(store.item_count(), level);
        let disk = dir_size(&config.storage.path);
        fill_rows.push(vec![
            num(level as f64),
            format!("{} in {}", num((level - start) as f64), secs(fill)),
            num((level - start) as f64 / fill),
            format!("{:.0} MB", raw_bytes as f64 / 1e6),
            format!("{:.0} MB", disk as f64 / 1e6),
            format!("{:.2}", disk as f64 / raw_bytes as f64),
        ]);

        note(format!("render: rendering with {level} items stored"));
        let runs = 5;
        let mut render_t = Vec::new();
        let mut render_cpu = Vec::new();
        let mut read_t = Vec::new();
        let mut docs = None;
        for _ in 0..runs {
            let t = Instant::now();
            let got = store
                .recent(200, 10_000, |i| {
                    i.sources.iter().any(|s| feeds.contains(&s.feed_url))
                })
                .expect("recent");
            read_t.push(t.elapsed().as_secs_f64());
            assert_eq!(got.len(), 200);
            let (t, c) = (Instant::now(), thread_cpu());
            let rendered = feedwire::app::render_all(&config, &store).expect("render");
            // The server makes the compressed copies on the first request
            // for each; counted here, as before that change, so that this
            // is what one document change costs.
            for d in rendered.values() {
                let _ = (d.gzip(), d.brotli());
            }
            docs = Some(rendered);
            render_cpu.push(thread_cpu() - c);
            render_t.push(t.elapsed().as_secs_f64());
        }
        let docs = docs.expect("rendered");
        let (r, rd) = (median(&render_cpu), median(&read_t));
        if base_render.is_nan() {
            base_render = r;
            base_read = rd;
        }
        let size = |name: &str| {
            docs.get(name)
                .map(|d| {
                    format!(
                        "{:.0} / {:.0}",
                        d.body.len() as f64 / 1e3,
                        d.gzip().len() as f64 / 1e3
                    )
                })
                .unwrap_or_default()
        };
        rows.push(vec![
            num(level as f64),
            spread(&read_t),
            format!("{:.2}", rd / base_read),
            spread(&render_t),
            spread(&render_cpu),
            format!("**{:.2}**", r / base_render),
            size("politics.rss"),
            size("politics.atom"),
            size("politics.json"),
        ]);
    }
    drop(store);

    rep.line(format!(
        "### Render with the store growing (`render_all`: 200 newest items × RSS/Atom/JSON, each + gzip + brotli q9, + OPML; median (min–max) of 5; lower bound = the same with {} stored)\n",
        num(levels[0] as f64)
    ));
    rep.table(
        &[
            "items stored",
            "read newest 200 (`Store::recent`)",
            "× smallest",
            "render_all wall",
            "render_all CPU (thread)",
            "CPU × smallest",
            "RSS KB / gzip",
            "Atom KB / gzip",
            "JSON KB / gzip",
        ],
        &rows,
    );
    rep.line(format!(
        "### Store size (filled with `Store::ingest` in batches of {batch} from {t_count} distinct parsed farm items, copies re-keyed and dated older)\n"
    ));
    rep.table(
        &[
            "items stored",
            "added / time",
            "items/s",
            "records + keys + index (lower bound)",
            "on disk (du)",
            "× lower bound",
        ],
        &fill_rows,
    );

    // The daemon on the largest store: start-up render and resident memory.
    note(format!(
        "render: starting the daemon on {} items",
        num(filled as f64)
    ));
    let d = Daemon::start(o, &config_path, daemon_port, &dir.join("daemon.log"));
    let listening = d.wait_for("Listening.", Duration::from_secs(300));
    let pid = d.child.id();
    let (rss0, _) = proc_mem(pid);
    let fetched = runtime(1).block_on(async {
        let mut n = 0;
        for _ in 0..200 {
            let r = reqwest::get(d.url("/politics.rss")).await.expect("GET");
            assert_eq!(r.status(), 200);
            n += r.bytes().await.expect("body").len();
        }
        n
    });
    let (rss1, hwm1) = proc_mem(pid);
    let f = d.stop();
    rep.line(format!("### Daemon on the {} -item store\n", num(filled as f64)));
    rep.table(
        &["measure", "value"],
        &[
            vec![
                "start → listening (store open + first render of every output)".into(),
                secs(listening),
            ],
            vec![
                "resident memory (VmRSS) after start".into(),
                format!("{rss0:.1} MB"),
            ],
            vec![
                format!(
                    "VmRSS / VmHWM after 200 GETs of /politics.rss ({:.1} MB served)",
                    fetched as f64 / 1e6
                ),
                format!("{rss1:.1} MB / {hwm1:.1} MB"),
            ],
            vec!["exit status after SIGTERM".into(), f.exit.to_string()],
        ],
    );
    if !o.keep_store {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

// ---------------------------------------------------------------------------
// Scale: the real daemon on N small feeds that change by rounds.

/// The `--small` farm as a child process.
struct ChurnFarm {
    child: Child,
    summary: String,
    base: String,
}

impl ChurnFarm {
    fn start(o: &Opts, n: usize, config: &Path, first: u64, period: u64) -> ChurnFarm {
        let mut child = Command::new(&o.farm)
            .arg(n.to_string())
            .arg("--small")
            .args(["--round-secs", &period.to_string()])
            .args(["--first-round-secs", &first.to_string()])
            .args(["--share", &o.scale_share.to_string()])
            .args(["--config", config.to_str().expect("utf-8 path")])
            .args([
                "--max-secs",
                &(first + period * (o.scale_rounds as u64 + 2) + 600).to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e} (build with --examples)", o.farm.display()));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let summary = lines.next().expect("farm summary").expect("farm output");
        let ready = lines.next().expect("farm ready line").expect("farm output");
        let url = ready.strip_prefix("ready ").expect("ready line");
        let base = url.strip_suffix("/f/0.xml").expect("feed 0 url").to_owned();
        ChurnFarm { child, summary, base }
    }

    fn get(&self, path: &str) -> String {
        let url = format!("{}{path}", self.base);
        runtime(1).block_on(async {
            reqwest::get(&url)
                .await
                .expect("farm answers")
                .text()
                .await
                .expect("farm answers")
        })
    }

    /// `(200s, 304s, round, time of the latest feed request)`.
    fn stats(&self) -> (u64, u64, u64, f64) {
        let body = self.get("/stats");
        let get = |k: &str| -> f64 {
            body.split_whitespace()
                .find_map(|p| p.strip_prefix(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        (
            get("200=") as u64,
            get("304=") as u64,
            get("round=") as u64,
            get("last="),
        )
    }

    /// Unix time of the next round's start.
    fn next_round_at(&self) -> f64 {
        let body = self.get("/round");
        let left: f64 = body
            .split_whitespace()
            .find_map(|p| p.strip_prefix("next_in="))
            .and_then(|v| v.parse().ok())
            .expect("next_in");
        unix_now() + left
    }
}

impl Drop for ChurnFarm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// CPU seconds (user + system) of a process so far.
fn proc_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the
    // 14th field overall, the 12th after ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    // USER_HZ is 100 on Linux.
    f.iter().sum::<f64>() / 100.0
}

/// One sample of the daemon: unix time, VmRSS MB, VmHWM MB, CPU s.
type Sample = (f64, f64, f64, f64);

/// One `Poll round done.` line: its timestamp and the items it called new.
fn round_done(line: &str) -> Option<(f64, u64)> {
    if !line.contains("Poll round done.") {
        return None;
    }
    let ts = chrono::DateTime::parse_from_rfc3339(line.split_whitespace().next()?).ok()?;
    let new = line
        .split_whitespace()
        .find_map(|p| p.strip_prefix("new="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some((ts.timestamp_micros() as f64 / 1e6, new))
}

fn scale_section(o: &Opts, rep: &mut Report) {
    for &n in &o.scale_sizes {
        scale_run(o, rep, n);
    }
}

fn scale_run(o: &Opts, rep: &mut Report, n: usize) {
    let dir = o.work.join(format!("scale-{n}"));
    std::fs::create_dir_all(&dir).expect("scale dir");
    // The cold round must end before the first churn round: long enough
    // for the store to take every item at ~1 s per 1,000 feeds on busy cores.
    let first = o.scale_first.unwrap_or((n as u64 / 250).max(60));
    let period = o.scale_period.unwrap_or((n as u64 / 500).max(60));
    let farm_config = dir.join("farm.toml");
    note(format!(
        "scale: {n} small feeds; round 0 {first} s, then a round every {period} s"
    ));
    let farm = ChurnFarm::start(o, n, &farm_config, first, period);
    note(&farm.summary);
    let port = free_port();
    let config = dir.join("feeds.toml");
    let text = std::fs::read_to_string(&farm_config).expect("farm config");
    std::fs::write(&config, daemon_config(&text, port, "data", "0s")).expect("config");
    let load_start = loadavg();
    let spawned = unix_now();
    let d = Daemon::start(o, &config, port, &dir.join("daemon.log"));
    let pid = d.child.id();
    let samples = Arc::new(std::sync::Mutex::new(Vec::<Sample>::new()));
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let sampler = {
        let samples = samples.clone();
        std::thread::spawn(move || {
            while stop_rx.recv_timeout(Duration::from_millis(200)).is_err() {
                let (rss, hwm) = proc_mem(pid);
                samples
                    .lock()
                    .expect("samples")
                    .push((unix_now(), rss, hwm, proc_cpu(pid)));
            }
        })
    };
    let sample_at = |t: f64| -> Sample {
        let s = samples.lock().expect("samples");
        s.iter()
            .rev()
            .find(|x| x.0 <= t)
            .or(s.first())
            .copied()
            .unwrap_or((t, f64::NAN, f64::NAN, f64::NAN))
    };
    let peak_between = |a: f64, b: f64| -> f64 {
        let s = samples.lock().expect("samples");
        s.iter()
            .filter(|x| x.0 >= a && x.0 <= b)
            .map(|x| x.1)
            .fold(f64::NAN, f64::max)
    };

    let mut rows = Vec::new();
    let mut dones: Vec<(f64, u64)> = Vec::new();
    let mut stored: u64 = 0;
    let (mut ok0, mut nm0) = (0u64, 0u64);
    let mut start = spawned;
    let mut cpu_per_round = Vec::new();
    // Round k > 0 starts at the farm's k-th boundary.
    let first_boundary = farm.next_round_at();
    for round in 0..=o.scale_rounds {
        let next = first_boundary + (round as f64) * period as f64;
        let target = n as u64 * (round as u64 + 1);
        // Wait for every feed's request of this round, then for the first
        // `Poll round done.` logged after the last of them.
        let end = loop {
            while let Ok(l) = d.lines.try_recv() {
                if let Some(done) = round_done(&l) {
                    dones.push(done);
                }
            }
            let (ok, nm, _, last) = farm.stats();
            if ok + nm >= target {
                if let Some(&(t, _)) = dones.iter().find(|(t, _)| *t >= last) {
                    break Some(t);
                }
            }
            if unix_now() > next + 1.0 {
                note(format!(
                    "scale: round {round} did not end before the next round began"
                ));
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let (ok, nm, _, _) = farm.stats();
        let end_t = end.unwrap_or_else(unix_now);
        let new: u64 = dones
            .iter()
            .filter(|(t, _)| *t > start && *t <= end_t)
            .map(|(_, new)| new)
            .sum();
        stored += new;
        // The rest of the round's period: renders, the memory release, idle.
        while unix_now() < next - 1.0 {
            while let Ok(l) = d.lines.try_recv() {
                if let Some(done) = round_done(&l) {
                    dones.push(done);
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let (s0, s1, s_rest) = (sample_at(start), sample_at(end_t), sample_at(next - 1.0));
        let cpu = s1.3 - s0.3;
        cpu_per_round.push((round, s_rest.3 - s0.3, end_t - start));
        rows.push(vec![
            if round == 0 {
                "0 (cold)".to_owned()
            } else {
                round.to_string()
            },
            end.map_or("did not end".to_owned(), |e| secs(e - start)),
            format!("{cpu:.1}"),
            format!("{:.1}", s_rest.3 - s0.3),
            format!("{:.1}", peak_between(start, end_t)),
            format!("{:.1}", s1.2),
            format!("{:.1}", s_rest.1),
            format!("{} / {}", count(ok - ok0), count(nm - nm0)),
            count(new),
            count(stored),
            loadavg(),
        ]);
        note(format!(
            "scale {n}: round {round}: {:?}",
            rows.last().expect("row")
        ));
        (ok0, nm0) = (ok, nm);
        start = next;
    }
    let expected: u64 = farm
        .get(&format!("/expected?round={}", o.scale_rounds))
        .trim()
        .parse()
        .unwrap_or(0);

    // Operator endpoints with N feeds: size and time of one request each.
    let mut endpoints = Vec::new();
    let mut store_items = f64::NAN;
    let mut renders = (f64::NAN, f64::NAN);
    for path in ["/status.json", "/status.json?state=failing", "/metrics", "/"] {
        let url = d.url(path);
        let cpu0 = proc_cpu(pid);
        let t = Instant::now();
        let body = runtime(1).block_on(async {
            reqwest::get(&url)
                .await
                .expect("daemon answers")
                .bytes()
                .await
                .expect("body")
        });
        let wall = t.elapsed().as_secs_f64();
        if path == "/metrics" {
            let text = String::from_utf8_lossy(&body);
            let metric = |name: &str| -> f64 {
                text.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(f64::NAN)
            };
            store_items = metric("feedwire_store_items");
            renders = (
                metric("feedwire_render_duration_seconds_count"),
                metric("feedwire_render_duration_seconds_sum"),
            );
        }
        endpoints.push(format!(
            "`{path}` {:.1} MB in {} ({:.2} CPU-s of the daemon)",
            body.len() as f64 / 1e6,
            secs(wall),
            proc_cpu(pid) - cpu0
        ));
    }
    let (rss_end, hwm_end) = proc_mem(pid);
    let _ = stop_tx.send(());
    sampler.join().expect("sampler");
    let f = d.stop();

    // A restart on the store: start-up with N feed states to read.
    let log = dir.join("restart.log");
    let d = Daemon::start(o, &config, port, &log);
    let t = Instant::now();
    let health = d.url("/healthz");
    let up = runtime(1).block_on(async {
        loop {
            if let Ok(r) = reqwest::get(&health).await {
                if r.status().is_success() {
                    break t.elapsed().as_secs_f64();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(t.elapsed() < Duration::from_secs(600), "daemon did not come up");
        }
    });
    // At `/healthz` the start-up is done; the 5 s after it include the
    // polls of whatever the farm's clock made due by then.
    let restart_pid = d.child.id();
    let (rss_up, _) = proc_mem(restart_pid);
    let cpu_up = proc_cpu(restart_pid);
    std::thread::sleep(Duration::from_secs(5));
    let (rss_rest, _) = proc_mem(restart_pid);
    let restart_cpu = proc_cpu(restart_pid);
    let _ = d.stop();
    let disk = dir_size(&dir.join("data"));

    rep.line(format!(
        "### {} small feeds, daemon (`feedwire run`), {} churn rounds at {:.0} %\n",
        num(n as f64),
        o.scale_rounds,
        o.scale_share * 100.0
    ));
    rep.line(format!("Farm: {}", farm.summary));
    rep.line(format!(
        "Daemon: `interval = \"1m\"` (the floor), `first_poll_spread = \"0s\"`, concurrency 16, per_host 2; \
         the farm's `Cache-Control: max-age` makes each feed due at the next farm round: round 0 (cold, empty \
         store) lasts {first} s, then a round every {period} s. Load at start {load_start}.\n"
    ));
    rep.table(
        &[
            "round",
            "wall: round start → last feed stored",
            "CPU-s in that time",
            "CPU-s over the whole period",
            "max VmRSS (MB, sampled 200 ms)",
            "VmHWM at round end (MB)",
            "VmRSS at period end (MB)",
            "requests 200 / 304",
            "items new",
            "items new, all rounds",
            "load (1/5/15)",
        ],
        &rows,
    );
    rep.line(format!(
        "New items over all rounds {} vs {} distinct stories the farm showed up to round {} ({}); the store \
         holds {} of them (`[storage] max_items`, default 100,000, prunes the oldest and keeps their seen records).\n",
        count(stored),
        count(expected),
        o.scale_rounds,
        if stored == expected { "exact" } else { "differs" },
        num(store_items)
    ));
    // Renders run back to back while a round brings items; their wall
    // time (the renderer's thread) is part of every round's CPU.
    rep.line(format!(
        "Renders over the whole run: {:.0} taking {} of wall in all, {} each on average.\n",
        renders.0,
        secs(renders.1),
        secs(renders.1 / renders.0)
    ));
    rep.line(format!(
        "After the rounds: {}; VmRSS {rss_end:.1} MB, VmHWM {hwm_end:.1} MB; CPU {:.1} s in all, exit {}. \
         Store on disk {:.1} MB.\n",
        endpoints.join(", "),
        f.cpu,
        f.exit,
        disk as f64 / 1e6
    ));
    rep.line(format!(
        "Restart on that store ({n} feed states): `/healthz` answers after {}, VmRSS {rss_up:.1} MB, {cpu_up:.2} CPU-s; \
         5 s later (polling again) VmRSS {rss_rest:.1} MB, {restart_cpu:.2} CPU-s.\n",
        secs(up)
    ));
    // What one 2-core node sustains at a 15-minute interval, from the churn
    // rounds' CPU over the whole period (renders and idle included).
    let churn: Vec<f64> = cpu_per_round
        .iter()
        .filter(|(r, _, _)| *r > 0)
        .map(|(_, cpu, _)| *cpu)
        .collect();
    if !churn.is_empty() {
        let per_feed = median(&churn) / n as f64;
        let budget = 2.0 * 900.0 * 0.5;
        rep.line(format!(
            "Churn round CPU (median over the period): {:.1} CPU-s, {:.2} CPU-ms per feed. At a 15-minute interval, \
             with half of 2 cores (900 CPU-s of 1,800) as headroom: {} feeds.\n",
            median(&churn),
            per_feed * 1e3,
            num(budget / per_feed)
        ));
    }
    if !o.keep_store {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
