//! Crash test: kills `feedwire run` with SIGKILL at random moments while it
//! ingests a slow feed farm, restarts it each time, and checks that nothing
//! is lost, duplicated or stuck. Run it through `scripts/crash-test`, which
//! builds the binaries.
//!
//! ```sh
//! crashtest --feedwire target/debug/feedwire --farm target/debug/examples/testfarm [--kills N] [--feeds M] [--seed S] [--dir DIR]
//! ```
//!
//! 1. Starts the farm (`examples/testfarm.rs`: M feeds, default 10 per kill,
//!    answers delayed 200-800 ms, a new item per feed every 5 s) and a
//!    config polling all of it, four fetches at a time, so that every start
//!    has more to poll than the run lasts.
//! 2. SIGTERM while polls are in flight, on a fresh store: exit code 0.
//! 3. K times (default 20): start (the feeds due are polled at once), wait
//!    a random 0-1.5 s, note what `/politics.rss` and `/politics.atom`
//!    serve, SIGKILL; then `feedwire export` on the crashed store.
//! 4. A last start: waits until every feed has been polled and is `ok` in
//!    `/status.json` with its next poll in the future; SIGTERM, exit 0;
//!    `feedwire export` on the stopped store lists everything the running
//!    daemon listed (and may list more: the daemon polls on between its
//!    listing and the SIGTERM, and with many feeds a round is still
//!    storing then; 40 kills, seed 20261206, showed it on main `43ec8d0`).
//!
//! Checked after every kill: the crashed store opens; its export (every
//! stored item) holds every item served just before the kill (the outputs
//! carry only the newest 200, so the export is the reference, and at the
//! end every item ever served must still be there); no id appears twice in
//! the RSS or the Atom document, nor a link twice in an export. Exits 1 and
//! lists every problem if any check fails; a temporary folder is then kept
//! (`--dir` keeps it anyway) with the store and both logs.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Bound on every wait for a process or a log line.
const WAIT: Duration = Duration::from_secs(60);

struct Opts {
    feedwire: PathBuf,
    farm: PathBuf,
    kills: usize,
    feeds: usize,
    seed: u64,
    dir: Option<PathBuf>,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter().position(|a| a == name).map(|i| {
            args.get(i + 1)
                .cloned()
                .unwrap_or_else(|| die(&format!("{name} needs a value")))
        })
    };
    let num = |name: &str, default: u64| {
        get(name).map_or(default, |v| {
            v.parse().unwrap_or_else(|_| die(&format!("bad {name}: {v}")))
        })
    };
    let kills = num("--kills", 20) as usize;
    let seed = num(
        "--seed",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    Opts {
        feedwire: get("--feedwire")
            .map(PathBuf::from)
            .unwrap_or_else(|| die("--feedwire PATH is required")),
        farm: get("--farm")
            .map(PathBuf::from)
            .unwrap_or_else(|| die("--farm PATH is required")),
        kills,
        feeds: num("--feeds", (10 * kills).max(40) as u64) as usize,
        seed,
        dir: get("--dir").map(PathBuf::from),
    }
}

fn die(msg: &str) -> ! {
    eprintln!("crashtest: {msg}");
    std::process::exit(2)
}

fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// xorshift64*: reproducible random moments from `--seed`.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// A child process whose output lines (stdout for the farm, stderr for
/// feedwire) arrive on a channel and are appended to a log file.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(mut cmd: Command, log: &Path, stderr: bool) -> Proc {
        cmd.stdin(Stdio::null());
        if stderr {
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| die(&format!("starting {cmd:?}: {e}")));
        let out: Box<dyn std::io::Read + Send> = if stderr {
            Box::new(child.stderr.take().unwrap())
        } else {
            Box::new(child.stdout.take().unwrap())
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                let _ = tx.send(line);
            }
        });
        Proc { child, lines }
    }

    /// The next line containing `needle`, within `wait`.
    fn wait_for(&self, needle: &str, wait: Duration) -> Result<String, String> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(line),
                Ok(_) => {}
                Err(_) => return Err(format!("no line with {needle:?} within {wait:?}")),
            }
        }
    }

    /// Drops the lines received so far.
    fn drain(&self) {
        while self.lines.try_recv().is_ok() {}
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            die(&format!("kill -{sig} {} failed", self.child.id()));
        }
    }

    /// Waits (bounded) for the exit; kills the process if it does not come.
    fn wait(mut self, wait: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("did not exit within {wait:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Rig {
    opts: Opts,
    dir: PathBuf,
    config: PathBuf,
    addr: std::net::SocketAddr,
    farm_url: String,
    http: reqwest::Client,
    problems: Vec<String>,
}

impl Rig {
    fn start_daemon(&self) -> Result<(Proc, usize), String> {
        let mut cmd = Command::new(&self.opts.feedwire);
        cmd.args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info");
        let d = Proc::spawn(cmd, &self.dir.join("feedwire.log"), true);
        let line = d.wait_for("Listening.", WAIT)?;
        let items = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("items="))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("no items= in {line:?}"))?;
        Ok((d, items))
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: {}", resp.status()));
        }
        Ok(resp
            .bytes()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
            .to_vec())
    }

    /// The item ids of the RSS and Atom documents; a repeated id is a
    /// problem.
    async fn served(&mut self, when: &str) -> Result<BTreeSet<String>, String> {
        let mut all = BTreeSet::new();
        for ext in ["rss", "atom"] {
            let body = self.get(&format!("http://{}/politics.{ext}", self.addr)).await?;
            let feed = feed_rs::parser::parse(&body[..]).map_err(|e| format!("politics.{ext}: {e}"))?;
            let mut seen = HashSet::new();
            for e in &feed.entries {
                if !seen.insert(e.id.clone()) {
                    self.problems
                        .push(format!("{when}: politics.{ext} carries {} twice", e.id));
                }
                all.insert(e.id.clone());
            }
        }
        Ok(all)
    }

    /// Every stored item's link, by `feedwire export`; a repeated link is a
    /// problem.
    fn export(&mut self, when: &str) -> Result<BTreeSet<String>, String> {
        let out = Command::new(&self.opts.feedwire)
            .args(["export", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "warn")
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "{when}: export failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut links = BTreeSet::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("{when}: export: {e}"))?;
            // Seen records of pruned items follow the items.
            if v.get("seen").is_some() {
                continue;
            }
            let link = v["link"].as_str().unwrap_or_default().to_owned();
            if !links.insert(link.clone()) {
                self.problems
                    .push(format!("{when}: the export lists {link} twice"));
            }
        }
        Ok(links)
    }

    async fn farm_stats(&self) -> String {
        self.get(&format!("{}/stats", self.farm_url))
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .unwrap_or_else(|e| e)
    }

    /// Items served before a kill that the store no longer has.
    fn check_kept(&mut self, when: &str, served: &BTreeSet<String>, stored: &BTreeSet<String>) -> usize {
        let lost: Vec<&String> = served.difference(stored).collect();
        if !lost.is_empty() {
            self.problems.push(format!(
                "{when}: {} of {} items served before the kill are gone: {}",
                lost.len(),
                served.len(),
                lost.iter()
                    .take(5)
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        lost.len()
    }
}

fn write_config(path: &Path, opts: &Opts, addr: std::net::SocketAddr, farm: &str, store: &Path) {
    let mut text = format!(
        "# Written by examples/crashtest.rs\n[server]\nlisten = \"{addr}\"\n\n[storage]\npath = {store:?}\n\n\
         [poll]\ninterval = \"1m\"\ntimeout = \"10s\"\nconcurrency = 4\nper_host = 4\nfirst_poll_spread = \"0s\"\n\
         # The farm is on 127.0.0.1.\nallow_private_networks = true\n\n\
         [[output]]\nname = \"politics\"\ntitle = \"سياسة\"\nlanguage = \"ar\"\nmax_items = 200\n\n"
    );
    for i in 0..opts.feeds {
        text.push_str(&format!(
            "[[feed]]\nurl = \"{farm}/feed/{i}.xml\"\nname = \"المصدر {i}\"\n\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let opts = opts();
    let started = Instant::now();
    let tmp;
    let dir = match &opts.dir {
        Some(d) => {
            std::fs::create_dir_all(d).unwrap();
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir().unwrap();
            tmp.path().to_owned()
        }
    };
    let mut rng = Rng(opts.seed | 1);
    say(&format!(
        "crash-test: seed {}, {} feeds, {} SIGKILLs, logs in {}",
        opts.seed,
        opts.feeds,
        opts.kills,
        dir.display()
    ));

    let mut cmd = Command::new(&opts.farm);
    cmd.args([
        "--feeds",
        &opts.feeds.to_string(),
        "--delay-ms",
        "200-800",
        "--new-every",
        "5",
    ]);
    let farm = Proc::spawn(cmd, &dir.join("farm.log"), false);
    let ready = farm
        .wait_for("ready ", WAIT)
        .unwrap_or_else(|e| die(&format!("farm: {e}")));
    let farm_url = ready.trim_start_matches("ready ").to_owned();
    let addr = free_addr();
    let config = dir.join("feeds.toml");
    write_config(&config, &opts, addr, &farm_url, &dir.join("data"));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut rig = Rig {
        opts,
        dir,
        config,
        addr,
        farm_url,
        // No pooled connections: each daemon is a new process on the same port.
        http: reqwest::Client::builder()
            .timeout(WAIT)
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
        problems: Vec::new(),
    };
    if let Err(e) = run(&mut rig, &farm, &mut rng).await {
        rig.problems.push(e);
    }
    say(&format!(
        "crash-test: took {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    if rig.problems.is_empty() {
        say("crash-test: OK");
    } else {
        say(&format!("crash-test: {} problem(s):", rig.problems.len()));
        for p in &rig.problems {
            say(&format!("  {p}"));
        }
        drop(farm);
        std::process::exit(1);
    }
}

async fn run(rig: &mut Rig, farm: &Proc, rng: &mut Rng) -> Result<(), String> {
    // SIGTERM during a poll cycle, on a fresh store.
    let (d, _) = rig.start_daemon()?;
    farm.drain();
    farm.wait_for("GET /feed/", WAIT)
        .map_err(|e| format!("first start: {e}"))?;
    let stats = rig.farm_stats().await;
    let t = Instant::now();
    d.signal("TERM");
    let status = d.wait(WAIT).map_err(|e| format!("SIGTERM: {e}"))?;
    say(&format!(
        "SIGTERM during a poll cycle (farm: {stats}): {status} after {:.2}s",
        t.elapsed().as_secs_f64()
    ));
    if !status.success() {
        rig.problems
            .push(format!("SIGTERM during a poll cycle: {status}, expected exit 0"));
    }

    let mut all_served = BTreeSet::new();
    let mut lost = 0;
    for k in 1..=rig.opts.kills {
        let when = format!("start {k}");
        let (d, items_at_start) = rig.start_daemon().map_err(|e| format!("{when}: {e}"))?;
        // A random moment after the start: polls of the feeds due begin at once.
        let pause = Duration::from_millis(rng.below(1501));
        tokio::time::sleep(pause).await;
        let served = rig.served(&format!("before kill {k}")).await?;
        let stats = rig.farm_stats().await;
        d.signal("KILL");
        let status = d.wait(WAIT)?;
        // The crashed store opens (`export` reads it directly) and holds
        // everything that was served.
        let stored = rig.export(&format!("after kill {k}"))?;
        lost += rig.check_kept(&format!("kill {k}"), &served, &stored);
        say(&format!(
            "kill {k:2}: {status} {} ms after the start (farm: {stats}); {items_at_start} items stored before, {} after, {} served just before the kill",
            pause.as_millis(),
            stored.len(),
            served.len()
        ));
        all_served.extend(served);
    }

    // The last start: everything must be polled and sane.
    let t = Instant::now();
    let (d, items_at_start) = rig.start_daemon().map_err(|e| format!("last start: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(180);
    let (mut ok, mut report) = (false, String::new());
    while Instant::now() < deadline {
        let body = rig.get(&format!("http://{}/status.json", rig.addr)).await?;
        let feeds: Vec<serde_json::Value> = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let now = chrono::Utc::now();
        let bad: Vec<String> = feeds
            .iter()
            .filter(|f| {
                let due = f["next_due"]
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
                f["state"] != "ok" || due.is_none_or(|d| d < now - chrono::Duration::seconds(5))
            })
            .map(|f| format!("{} {} (next due {})", f["name"], f["state"], f["next_due"]))
            .collect();
        report = format!("{} feeds, {} not yet polled or not ok", feeds.len(), bad.len());
        if bad.is_empty() {
            ok = true;
            break;
        }
        if let Some(first) = bad.first() {
            report.push_str(&format!(", e.g. {first}"));
        }
        // The next round's end, or a second of waiting.
        let _ = d.wait_for("Poll round done.", Duration::from_secs(1));
    }
    if !ok {
        rig.problems.push(format!("after the last start: {report}"));
    }
    let served = rig.served("last start").await?;
    let stored = rig.export("last start, all polled")?;
    lost += rig.check_kept("all kills", &all_served, &stored);
    say(&format!(
        "last start: {items_at_start} items stored at start; every feed polled and ok: {ok} after {:.1}s ({report}); {} items stored, {} served",
        t.elapsed().as_secs_f64(),
        stored.len(),
        served.len()
    ));
    let t = Instant::now();
    d.signal("TERM");
    let status = d.wait(WAIT).map_err(|e| format!("last SIGTERM: {e}"))?;
    if !status.success() {
        rig.problems
            .push(format!("SIGTERM after the last start: {status}, expected exit 0"));
    }
    let on_disk = rig.export("stopped store")?;
    let missing = stored.difference(&on_disk).count();
    if missing > 0 {
        rig.problems.push(format!(
            "the stopped store lists {} items and lacks {missing} of the {} the running daemon listed",
            on_disk.len(),
            stored.len()
        ));
    }
    say(&format!(
        "stop: {status} after {:.2}s; the stopped store opens and lists {} items ({} stored after the running daemon's listing); {} distinct items served before kills, {lost} of them lost",
        t.elapsed().as_secs_f64(),
        on_disk.len(),
        on_disk.difference(&stored).count(),
        all_served.len()
    ));
    Ok(())
}
