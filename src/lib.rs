//! feedwire: a feed aggregator daemon. It polls the RSS, Atom and JSON feeds
//! listed in `feeds.toml`, deduplicates their items on canonical links in a
//! store (sled embedded, or PostgreSQL shared by a fleet of nodes), and
//! republishes merged feeds (RSS 2.0, Atom, JSON Feed) over HTTP.
//!
//! # Codemap
//!
//! Modules follow the data:
//!
//! ```text
//! config ─► poller ─► fetch ─► parse ─► store ─► generate ─► server
//!           (when)    (HTTP)   (bytes   (sled,   (bytes     (listener,
//!                               → Item)  dedup)   out)       304/gzip)
//! ```
//!
//! - [`config`]: `feeds.toml` schema and validation, every problem located.
//! - [`item`]: the [`item::Item`] model and the canonical-link [`item::ItemKey`].
//! - [`fetch`]: the only network client; conditional GET with a body cap.
//! - [`parse`]: bytes → items via feed-rs; `parse/charset.rs` decides the
//!   charset on evidence, `parse/recover.rs` normalises old dialects (RSS 0.90,
//!   Atom 0.3, namespaced RSS 2.0) and repairs damaged XML in one linear pass.
//! - [`dates`]: lenient date strings (Arabic included) → instants, for `parse`.
//! - [`store`]: the only database user, one seam over two backends (sled,
//!   PostgreSQL); insert-once items, date index, feed state, fleet leases.
//! - [`generate`]: items → RSS/Atom bytes.
//! - [`cluster`]: groups items of different outlets reporting the same story
//!   (MinHash/LSH candidates, average-linkage clusters); a pure view.
//! - [`opml`]: the feed list as OPML, and OPML imported into `feeds.toml`
//!   text (pure, like `parse` and `generate`).
//! - [`server`]: the only listener; serves pre-rendered documents.
//! - [`poller`]: per-feed schedule and the fetch→parse→store pipeline, with
//!   bounded body slots (backpressure) and fleet leases on a shared store.
//! - [`discover`]: a page's head → the feed it links (`<link rel="alternate">`), pure.
//! - [`extract`]: article page → readable content (dom_smoothie), pure.
//! - [`fulltext`]: the task that fetches and extracts new items' pages for
//!   `full_text` feeds, never blocking polls or renders.
//! - [`memory`]: allocator thresholds and trimming, so memory returns to rest.
//! - [`status`]: per-feed status for operators (`/status.json`, `feedwire status`).
//! - [`clock`]: wall-clock time, injectable so schedules are tested without sleeping.
//! - [`render`]: store → served documents, per output.
//! - [`backup`]: export and import of items as JSON lines.
//! - [`app`]: wiring, start-up and ordered shutdown.
//! - [`cli`]: the command line and its exit codes.
//!
//! # Invariants
//!
//! - I/O lives in three modules: only `fetch` talks to the network, only
//!   `store` touches a database, only `server` owns the listener. `parse` and
//!   `generate` are pure and tested on fixtures.
//! - `Item` is the one shape crossing modules: feed-rs types stop in `parse`,
//!   `rss`/`atom_syndication` types start in `generate`.
//! - The store alone decides "new", by canonical link; an item is stored once
//!   and never becomes new again.
//! - One bad feed never stops the others: its error goes to the log and to
//!   its feed state, and it is retried with backoff.
//! - The HTTP path never waits on upstream or on sled: it serves the last
//!   rendered bytes.
//!
//! These docs are the developers' map, private items included: build them
//! with `cargo doc --no-deps --document-private-items` (CI does, with
//! warnings as errors), where module docs may link the private items they
//! explain.
#![allow(rustdoc::private_intra_doc_links)]

pub mod app;
pub mod backup;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod dates;
pub mod discover;
pub mod extract;
pub mod fetch;
pub mod fulltext;
pub mod generate;
pub mod item;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod opml;
pub mod parse;
pub mod poller;
pub mod render;
pub mod select;
pub mod server;
pub mod status;
pub mod store;
pub mod systemd;
