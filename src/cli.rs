//! The command line: subcommands, their output and exit codes (an interface:
//! see README). `main.rs` only calls [`main`].

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{Config, ConfigError};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "Polls feeds, deduplicates on links, republishes one merged feed",
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Path of the config file.
    #[arg(long, global = true, env = "FEEDWIRE_CONFIG", default_value = crate::config::DEFAULT_PATH)]
    config: PathBuf,
    /// Log format: auto (journal under systemd, else human), human, journal, json.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    log_format: crate::logging::LogFormat,
}

/// The end of `feedwire --help` and of the man page (docs/man/feedwire.1).
const AFTER_LONG_HELP: &str = "\
Files:
  /etc/feedwire/feeds.toml   the config of the Debian package's service
  /var/lib/feedwire          its state directory (the store is data/)

Environment:
  FEEDWIRE_CONFIG   the config path when --config is not given
  STATE_DIRECTORY   set by systemd (StateDirectory=); a relative
                    [storage] path is resolved against it
  RUST_LOG          log level and filters (default info)

Exit codes: 0 is success. `check` exits 1 on any problem in the config;
`run` exits 2 on a bad config and 1 on a runtime error; the other commands
exit 1 when some part failed and 2 on a fatal error. Every command's codes
and the config reference: /usr/share/doc/feedwire/README.md";

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (the default).
    Run,
    /// Validate the config; print every problem with file:line:column.
    Check,
    /// Poll every feed once, store, render if anything new was stored, print a summary.
    PollOnce,
    /// Show every feed's status, read from the running daemon.
    Status,
    /// Render every output from the store into a folder and exit.
    Render {
        /// Folder to write `{output}.rss`, `.atom` and `.json` into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Add the feeds of an OPML file to the config file, keeping its comments.
    ImportOpml {
        /// The OPML file.
        file: PathBuf,
    },
    /// Print the configured feeds as OPML.
    ExportOpml,
    /// Dump every stored item to stdout (through the running daemon when it
    /// holds the store).
    Export {
        /// Output format; JSON lines is the one there is.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
    },
    /// Fetch one article page and print what full_text would publish: title,
    /// byline, language and the sanitised HTML (for tuning
    /// `full_text_selector`). Exit 1 when the page gives no article.
    Extract {
        /// The article's URL.
        url: String,
        /// CSS selector of the article block (as `full_text_selector`).
        #[arg(long)]
        selector: Option<String>,
        /// Outlet named in the attribution line when the page names none.
        #[arg(long)]
        outlet: Option<String>,
        /// Allow loopback and private addresses (as `allow_private_networks`;
        /// also on when the config's `[poll]` says so).
        #[arg(long)]
        allow_private_networks: bool,
    },
    /// Fetch a web page and print the feeds its head links (`<link
    /// rel="alternate">`: RSS, Atom, JSON Feed), one per line: URL, type and
    /// title, tab-separated, the one a feed poll would take marked `*`.
    /// Exit 1 when it names none.
    Discover {
        /// The page's URL.
        url: String,
        /// Allow loopback and private addresses (as `allow_private_networks`;
        /// also on when the config's `[poll]` says so).
        #[arg(long)]
        allow_private_networks: bool,
    },
    /// Load a dump made by `export` into the store (the daemon must be stopped).
    Import {
        /// The JSON-lines file.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Jsonl,
}

/// Parses the command line, sets up logging, runs the command.
pub fn main() -> ExitCode {
    crate::memory::tune();
    let cli = Cli::parse();
    crate::logging::init(cli.log_format);

    match cli.command.unwrap_or(Command::Run) {
        Command::Check => check(&cli.config),
        Command::Run => {
            let Some(config) = load(&cli.config) else {
                return ExitCode::from(2);
            };
            match block_on(crate::app::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("feedwire: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Render { out } => {
            let Some(config) = load(&cli.config) else {
                return ExitCode::from(2);
            };
            match crate::app::render_to_dir(&config, &out) {
                Ok(files) => {
                    for f in files {
                        println!("wrote {}", f.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("feedwire: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::ImportOpml { file } => import_opml(&cli.config, &file),
        Command::Extract {
            url,
            selector,
            outlet,
            allow_private_networks,
        } => extract(
            &cli.config,
            &url,
            selector.as_deref(),
            outlet.as_deref(),
            allow_private_networks,
        ),
        Command::Discover {
            url,
            allow_private_networks,
        } => discover(&cli.config, &url, allow_private_networks),
        Command::ExportOpml => {
            let Some(config) = load(&cli.config) else {
                return ExitCode::from(2);
            };
            print!("{}", crate::opml::export(&config, &Default::default(), false));
            ExitCode::SUCCESS
        }
        Command::Export {
            format: ExportFormat::Jsonl,
        } => {
            let Some(config) = load(&cli.config) else {
                return ExitCode::from(2);
            };
            export(&config)
        }
        Command::Import { file } => {
            let Some(config) = load(&cli.config) else {
                return ExitCode::from(2);
            };
            let run = || -> anyhow::Result<(usize, usize)> {
                use anyhow::Context;
                let store = crate::app::open_store(&config)?;
                let input =
                    std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
                crate::app::import_jsonl(&store, std::io::BufReader::new(input))
                    .with_context(|| format!("importing {}", file.display()))
            };
            match run() {
                Ok((new, present)) => {
                    println!("{new} items imported, {present} already stored");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("feedwire: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Status => {
            let Some(config) = load(&cli.config) else {
                return ExitCode::from(2);
            };
            status(&config)
        }
        Command::PollOnce => {
            let Some(config) = load(&cli.config) else {
                return ExitCode::from(2);
            };
            match block_on(crate::app::poll_once(&config)) {
                Ok(r) => {
                    for (url, error) in &r.failures {
                        println!("failed: {url}: {error}");
                    }
                    for (file, bytes) in &r.rendered {
                        println!("rendered: {file} ({bytes} bytes)");
                    }
                    if r.rendered.is_empty() {
                        println!("nothing new stored: outputs not rendered");
                    }
                    println!("{}; {} items stored", r.totals, r.items_stored);
                    if r.failures.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("feedwire: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Runs a future to completion, then stops the runtime without waiting
/// for blocking tasks that hang (a flush on a full disk must not keep the
/// process alive).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let rt = runtime();
    let out = rt.block_on(f);
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}

fn load(path: &std::path::Path) -> Option<Config> {
    match Config::load(path) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

/// The config at `path` for the commands that fetch one page (`extract`,
/// `discover`), or, when there is no such file, one with the `[poll]`
/// defaults (a config needs a feed and an output to be valid). `None` after
/// the problems of a file that does not load are printed.
fn config_or_defaults(path: &std::path::Path) -> Option<Config> {
    if path.exists() {
        return load(path);
    }
    let defaults = "[[output]]\nname = \"all\"\n\n[[feed]]\nurl = \"https://example.com/feed\"\n";
    Some(Config::parse(path, defaults).expect("the built-in defaults are a valid config"))
}

/// [`config_or_defaults`] and the page's URL, for `extract` and
/// `discover`; `None` (exit code 2) once the problem is printed.
fn config_and_url(path: &std::path::Path, url: &str) -> Option<(Config, url::Url)> {
    let config = config_or_defaults(path)?;
    match url::Url::parse(url) {
        Ok(u) if crate::item::is_web(&u) => Some((config, u)),
        _ => {
            eprintln!("feedwire: {url:?} is not an http or https URL");
            None
        }
    }
}

/// `feedwire extract URL`: fetched with the config's `[poll]` settings
/// (User-Agent, timeout, body cap), or the defaults when there is no config
/// file.
fn extract(
    path: &std::path::Path,
    url: &str,
    selector: Option<&str>,
    outlet: Option<&str>,
    allow_private: bool,
) -> ExitCode {
    let Some((config, url)) = config_and_url(path, url) else {
        return ExitCode::from(2);
    };
    if let Some(sel) = selector.filter(|s| !crate::extract::valid_selector(s)) {
        eprintln!("feedwire: invalid CSS selector {sel:?}");
        return ExitCode::from(2);
    }
    let fetcher = match crate::fetch::Fetcher::new(&config.poll) {
        Ok(f) => f.for_pages(),
        Err(e) => {
            eprintln!("feedwire: {e}");
            return ExitCode::FAILURE;
        }
    };
    let allow_private = allow_private || config.poll.allow_private_networks;
    let fetched = block_on(fetcher.fetch(&url, &Default::default(), allow_private));
    let fetched = match fetched {
        Ok(f) => f,
        Err(e) => {
            eprintln!("feedwire: {url}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let body = fetched.body.unwrap_or_default();
    match crate::extract::extract(&body, fetched.content_type.as_deref(), &url, selector, outlet) {
        Ok(a) => {
            println!("title: {}", a.title);
            println!("byline: {}", a.byline.as_deref().unwrap_or("-"));
            println!("language: {} ({})", a.lang.as_deref().unwrap_or("-"), a.dir);
            println!("outlet: {}", a.outlet);
            println!();
            println!("{}", a.html);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("feedwire: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `feedwire discover URL`: what a feed poll of the page would find.
fn discover(path: &std::path::Path, url: &str, allow_private: bool) -> ExitCode {
    let Some((config, url)) = config_and_url(path, url) else {
        return ExitCode::from(2);
    };
    let fetcher = match crate::fetch::Fetcher::new(&config.poll) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("feedwire: {e}");
            return ExitCode::FAILURE;
        }
    };
    let allow_private = allow_private || config.poll.allow_private_networks;
    // The feed poll's own fetch: a page is read up to the end of its head.
    let fetched = match block_on(fetcher.fetch(&url, &Default::default(), allow_private)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("feedwire: {url}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let kind = fetched.content_type.as_deref().unwrap_or("no Content-Type");
    if !fetched.page {
        println!("{url} is not a web page ({kind}): feed polls read it as a feed");
        return ExitCode::SUCCESS;
    }
    let html = crate::extract::decode(&fetched.body.unwrap_or_default(), fetched.content_type.as_deref());
    let links = crate::discover::feed_links(&html, &fetched.url);
    let Some(chosen) = crate::discover::choose(&links) else {
        eprintln!("feedwire: {url} is a web page ({kind}) with no feed link in its head");
        return ExitCode::FAILURE;
    };
    for l in &links {
        let mark = if l == chosen { "*" } else { " " };
        println!(
            "{mark} {}\t{}\t{}",
            l.url,
            l.media_type,
            l.title.as_deref().unwrap_or("-")
        );
    }
    ExitCode::SUCCESS
}

fn check(path: &std::path::Path) -> ExitCode {
    match Config::load(path) {
        Ok(c) => {
            println!("ok: {}", c.summary());
            ExitCode::SUCCESS
        }
        Err(e @ ConfigError::Read { .. }) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            let n = e.problems().len();
            eprintln!("{e}");
            eprintln!(
                "{n} problem{} in {}",
                if n == 1 { "" } else { "s" },
                path.display()
            );
            ExitCode::FAILURE
        }
    }
}

/// `feedwire export`: from the store, or from the daemon that holds it.
fn export(config: &Config) -> ExitCode {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let result = match crate::store::Store::open_storage(&config.storage) {
        Ok(store) => crate::app::export_jsonl(&store, |chunk| stdout.write_all(&chunk).is_ok())
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(crate::store::StoreError::Locked { .. }) => {
            let url = daemon_url(config, "export.jsonl");
            block_on(crate::fetch::get_local_streaming(&url, |chunk| {
                stdout.write_all(chunk).is_ok()
            }))
            .map_err(|e| format!("from the daemon at {url}: {e}"))
        }
        Err(e) => Err(e.to_string()),
    };
    match result.and_then(|()| stdout.flush().map_err(|e| e.to_string())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("feedwire: export failed: {e}");
            ExitCode::from(2)
        }
    }
}

/// A URL on the local daemon, from `[server] listen`.
fn daemon_url(config: &Config, path: &str) -> url::Url {
    let mut addr = config.server.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    url::Url::parse(&format!("http://{addr}/{path}")).expect("socket address makes a URL")
}

/// `feedwire status`: the running daemon's `/status.json` as a table. sled
/// admits one process, so the daemon is asked rather than the store read.
fn status(config: &Config) -> ExitCode {
    let url = daemon_url(config, "status.json");
    let fetched = block_on(crate::fetch::get_local(&url, std::time::Duration::from_secs(10)));
    let feeds: Vec<crate::status::FeedStatus> = match fetched
        .map_err(|e| e.to_string())
        .and_then(|body| serde_json::from_slice(&body).map_err(|e| e.to_string()))
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("feedwire: cannot read status from {url} (is the daemon running?): {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", crate::status::table(&feeds));
    let broken = feeds
        .iter()
        // A feed whose documents show entries but yield none is broken
        // too: it publishes nothing while its fetches succeed.
        .filter(|f| matches!(f.state.as_str(), "failing" | "gone" | "no_entries"))
        .count();
    println!(
        "{} feeds, {} ok, {} broken",
        feeds.len(),
        feeds
            .iter()
            .filter(|f| matches!(f.state.as_str(), "ok" | "repaired"))
            .count(),
        broken
    );
    if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `feedwire import-opml FILE`: appends the OPML's new feeds to the config
/// file, validates the result, and replaces the file atomically.
fn import_opml(config_path: &std::path::Path, opml_path: &std::path::Path) -> ExitCode {
    let run = || -> anyhow::Result<(usize, usize)> {
        use anyhow::Context;
        let opml = std::fs::read(opml_path).with_context(|| format!("reading {}", opml_path.display()))?;
        // OPML files are XML: honour a legacy charset declaration or BOM.
        let opml = crate::parse::decode_xml_text(&opml);
        let feeds = crate::opml::parse(&opml).with_context(|| format!("reading {}", opml_path.display()))?;
        let text = std::fs::read_to_string(config_path)
            .with_context(|| format!("reading {}", config_path.display()))?;
        let added = crate::opml::add_feeds(&text, &feeds)?;
        if let Err(e) = Config::parse(config_path, &added.text) {
            anyhow::bail!("the config with the imported feeds would not be valid; nothing written:\n{e}");
        }
        let tmp = config_path.with_extension("toml.tmp");
        std::fs::write(&tmp, &added.text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, config_path).with_context(|| format!("replacing {}", config_path.display()))?;
        Ok((added.added, added.skipped))
    };
    match run() {
        Ok((added, skipped)) => {
            println!(
                "{}: {added} feeds added, {skipped} already present",
                config_path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("feedwire: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;
    use std::collections::BTreeMap;
    use std::path::Path;

    /// docs/man/ is what the Debian package installs as man pages; it is
    /// rendered from the command-line definition and must match it.
    /// `FEEDWIRE_BLESS=1 cargo test --lib man_pages` rewrites it.
    #[test]
    fn man_pages_match_the_command_line() {
        let tmp = tempfile::tempdir().unwrap();
        clap_mangen::generate_to(Cli::command(), tmp.path()).unwrap();
        let fresh = read_pages(tmp.path());
        assert!(fresh.contains_key("feedwire.1"), "{:?}", fresh.keys());
        assert!(fresh.contains_key("feedwire-check.1"), "{:?}", fresh.keys());
        assert!(
            String::from_utf8_lossy(&fresh["feedwire.1"]).contains("/etc/feedwire/feeds.toml"),
            "the main page lists the files"
        );

        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man");
        if std::env::var_os("FEEDWIRE_BLESS").is_some() {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for (name, bytes) in &fresh {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
        let committed = read_pages(&dir);
        assert_eq!(
            committed.keys().collect::<Vec<_>>(),
            fresh.keys().collect::<Vec<_>>(),
            "docs/man/ is stale: run `FEEDWIRE_BLESS=1 cargo test --lib man_pages` and commit it"
        );
        for (name, bytes) in &fresh {
            assert!(
                committed[name] == *bytes,
                "docs/man/{name} is stale: run `FEEDWIRE_BLESS=1 cargo test --lib man_pages` and commit it"
            );
        }
    }

    fn read_pages(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return BTreeMap::new();
        };
        entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "1"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect()
    }
}
