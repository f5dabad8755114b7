//! The poller: when to fetch each feed, and what a fetch does to the store.
//!
//! [`poll_feed`] is one feed's whole pipeline (fetch → parse → store → feed
//! state); [`poll_all`] runs it for every feed once (`feedwire poll-once`);
//! [`run`] is the daemon's scheduler, which keeps every feed on its own
//! interval with a global concurrency limit. A failing feed only ever affects
//! its own state: errors are logged with the feed URL, recorded in its
//! [`FeedState`], and the feed is retried later with exponential backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::{Config, FeedConfig};
use crate::fetch::{Fetched, Fetcher, Validators};
use crate::parse::{parse_feed, FeedRef};
use crate::store::{FeedState, IngestReport, Store};

/// Errors are retried sooner than the interval would allow at first, then
/// less often, never less than once per this cap.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// What polling one feed did.
#[derive(Clone, Debug)]
pub struct FeedReport {
    pub url: String,
    pub name: String,
    pub outcome: Outcome,
    /// When the feed should be polled next, from now.
    pub next_in: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 304 Not Modified: nothing parsed, nothing stored.
    NotModified,
    /// A document was parsed and stored.
    Updated { items: usize, ingest: IngestReport },
    /// Fetch or parse failed; the message is the one shown to operators.
    Failed { error: String },
}

/// Totals over a set of feed reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollReport {
    pub feeds_ok: usize,
    pub feeds_failed: usize,
    pub not_modified: usize,
    pub items_new: usize,
    pub items_duplicate: usize,
}

impl PollReport {
    pub fn add(&mut self, r: &FeedReport) {
        match &r.outcome {
            Outcome::NotModified => {
                self.feeds_ok += 1;
                self.not_modified += 1;
            }
            Outcome::Updated { ingest, .. } => {
                self.feeds_ok += 1;
                self.items_new += ingest.new;
                self.items_duplicate += ingest.duplicate;
            }
            Outcome::Failed { .. } => self.feeds_failed += 1,
        }
    }
}

impl std::fmt::Display for PollReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "feeds: {} ok ({} not modified), {} failed; items: {} new, {} duplicate",
            self.feeds_ok, self.not_modified, self.feeds_failed, self.items_new, self.items_duplicate
        )
    }
}

/// Everything a poll needs; cheap to clone into tasks.
#[derive(Clone)]
pub struct PollContext {
    pub store: Store,
    pub fetcher: Fetcher,
}

/// Fetches, parses and stores one feed, and records the result in its state.
pub async fn poll_feed(ctx: &PollContext, feed: &FeedConfig, interval: Duration) -> FeedReport {
    let url = feed.url.to_string();
    let mut state = match ctx.store.feed_state(&url) {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => {
            warn!(feed = %feed.name, url = %url, error = %e, "Cannot read feed state; polling without validators.");
            FeedState::default()
        }
    };
    let validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    let started = Utc::now();
    state.last_attempt = Some(started.timestamp());

    let result = match ctx.fetcher.fetch(&feed.url, &validators).await {
        Ok(Fetched::NotModified) => {
            state.last_status = Some(304);
            Ok(Outcome::NotModified)
        }
        Ok(Fetched::Modified {
            body,
            content_type,
            validators,
        }) => {
            state.last_status = Some(200);
            state.bytes = body.len() as u64;
            let store = ctx.store.clone();
            let feed_for_parse = feed.clone();
            // Parsing and sled writes are CPU and blocking I/O: keep them off
            // the async workers so that serving and other fetches go on.
            let parsed = tokio::task::spawn_blocking(move || {
                let parsed = parse_feed(
                    FeedRef {
                        url: &feed_for_parse.url,
                        name: &feed_for_parse.name,
                    },
                    &body,
                    content_type.as_deref(),
                    started,
                )
                .map_err(|e| e.to_string())?;
                let ingest = store.ingest(&parsed.items).map_err(|e| e.to_string())?;
                Ok::<_, String>((parsed, ingest))
            })
            .await
            .unwrap_or_else(|e| Err(format!("internal error while parsing: {e}")));
            match parsed {
                Ok((parsed, ingest)) => {
                    state.etag = validators.etag;
                    state.last_modified = validators.last_modified;
                    state.charset = Some(parsed.charset.to_owned());
                    state.title = parsed.title;
                    state.items_seen = parsed.items.len();
                    state.items_new = ingest.new;
                    Ok(Outcome::Updated {
                        items: parsed.items.len(),
                        ingest,
                    })
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => {
            state.last_status = e.status();
            Err(e.to_string())
        }
    };

    let outcome = match result {
        Ok(outcome) => {
            state.last_success = Some(started.timestamp());
            state.consecutive_failures = 0;
            state.last_error = None;
            debug!(feed = %feed.name, url = %url, ?outcome, "Polled.");
            outcome
        }
        Err(error) => {
            state.consecutive_failures += 1;
            state.last_error = Some(error.clone());
            warn!(feed = %feed.name, url = %url, failures = state.consecutive_failures, %error, "Feed failed.");
            Outcome::Failed { error }
        }
    };
    let next_in = next_delay(interval, state.consecutive_failures);
    state.next_due = Some(started.timestamp() + next_in.as_secs() as i64);
    if let Err(e) = ctx.store.put_feed_state(&url, &state) {
        warn!(feed = %feed.name, url = %url, error = %e, "Cannot save feed state.");
    }
    FeedReport {
        url,
        name: feed.name.clone(),
        outcome,
        next_in,
    }
}

/// The wait before the next poll: the interval after a success; after
/// failures, a quarter of it doubling with each failure, capped.
fn next_delay(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let base = interval / 4;
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    base.saturating_mul(factor).min(MAX_BACKOFF.max(interval))
}

/// Polls every configured feed once, at most `[poll] concurrency` at a time.
pub async fn poll_all(ctx: &PollContext, config: &Config) -> (PollReport, Vec<FeedReport>) {
    let sem = Arc::new(Semaphore::new(config.poll.concurrency));
    let mut tasks = JoinSet::new();
    for feed in &config.feeds {
        let (ctx, feed, sem) = (ctx.clone(), feed.clone(), sem.clone());
        let interval = config.interval_of(&feed);
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore is never closed");
            poll_feed(&ctx, &feed, interval).await
        });
    }
    let mut report = PollReport::default();
    let mut feeds = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let r = r.expect("poll tasks do not panic");
        report.add(&r);
        feeds.push(r);
    }
    (report, feeds)
}

/// The daemon's scheduler: polls each feed when it is due until `cancel`
/// fires, and calls `changed.notify_one()` whenever the store gained items.
///
/// Due times come from the stored feed state, so a restart neither re-polls
/// everything at once nor forgets a backoff; feeds never polled are due now.
pub async fn run(ctx: PollContext, config: Arc<Config>, cancel: CancellationToken, changed: Arc<Notify>) {
    let sem = Arc::new(Semaphore::new(config.poll.concurrency));
    let now_wall = Utc::now().timestamp();
    let start = Instant::now();
    let mut due: HashMap<usize, Instant> = HashMap::new();
    for (i, feed) in config.feeds.iter().enumerate() {
        let next = ctx
            .store
            .feed_state(feed.url.as_str())
            .ok()
            .flatten()
            .and_then(|s| s.next_due)
            .map(|t| Duration::from_secs(t.saturating_sub(now_wall).max(0) as u64))
            .unwrap_or_default();
        due.insert(i, start + next);
    }

    let mut tasks: JoinSet<(usize, FeedReport)> = JoinSet::new();
    let mut round = PollReport::default();
    loop {
        let now = Instant::now();
        let ready: Vec<usize> = due.iter().filter(|(_, t)| **t <= now).map(|(i, _)| *i).collect();
        for i in ready {
            // A feed in flight has no due time until its poll ends.
            due.remove(&i);
            let (ctx, sem, feed) = (ctx.clone(), sem.clone(), config.feeds[i].clone());
            let interval = config.interval_of(&feed);
            tasks.spawn(async move {
                let _permit = sem.acquire_owned().await.expect("semaphore is never closed");
                (i, poll_feed(&ctx, &feed, interval).await)
            });
        }
        let next_wake = due.values().min().copied();
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                match done {
                    Ok((i, report)) => {
                        round.add(&report);
                        if matches!(&report.outcome, Outcome::Updated { ingest, .. } if ingest.changed()) {
                            changed.notify_one();
                        }
                        due.insert(i, Instant::now() + report.next_in);
                    }
                    Err(e) => warn!(error = %e, "Poll task ended abnormally."),
                }
                if tasks.is_empty() {
                    info!(ok = round.feeds_ok, failed = round.feeds_failed, not_modified = round.not_modified,
                          new = round.items_new, duplicate = round.items_duplicate, "Poll round done.");
                    round = PollReport::default();
                }
            }
            _ = sleep_until_opt(next_wake) => {}
        }
    }
    debug!("Poller stopped.");
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let i = Duration::from_secs(900);
        assert_eq!(next_delay(i, 0), i);
        assert_eq!(next_delay(i, 1), Duration::from_secs(225));
        assert_eq!(next_delay(i, 2), Duration::from_secs(450));
        assert_eq!(next_delay(i, 3), Duration::from_secs(900));
        assert_eq!(next_delay(i, 30), MAX_BACKOFF);
    }
}
