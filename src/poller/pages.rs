//! The entries of a gap, read back from the feed's next pages.
//!
//! A gap ([`super::gaps`]) means the entries published between two polls
//! scrolled out of the feed before we read it. Many feeds still serve them:
//! a paged feed (RFC 5005 section 3) names its next page, older entries of
//! the same feed, with `<link rel="next">` (Atom) or `<atom:link
//! rel="next">` in an RSS channel (Blogger's `?start-index=26`, CMSs,
//! GitHub and GitLab, podcast hosts), or `next_url` in a JSON Feed. WordPress serves any feed's older
//! posts at `?paged=2`, `?paged=3`... without naming them: a document
//! whose generator is WordPress and that names no next page is paged that
//! way ([`wordpress_next`]). This module owns that walk: after a poll
//! judged a gap, whose document has a next page, it reads page
//! after page as the feed's own document (the one parse-and-store path of
//! the poller, so the store's lookups, the retention, revisions and
//! full-text claims are the feed's), until a page holds an entry this feed
//! brought before this poll: the overlap, so nothing published in between
//! is missing (an entry this poll stored, met again, is no overlap).
//!
//! Bounds, so that a gap costs a few requests and never a crawl:
//! - at most `[poll] gap_pages` pages per gap (default
//!   [`DEFAULT_GAP_PAGES`]; 0 turns paging off); a feed's first poll, or
//!   any poll that is not a gap, reads no page (the rule in `gaps`: the
//!   history of a feed is not crawled);
//! - each page is fetched as the feed is (`fetch_hop`): the host's slots
//!   (fleet-wide on a shared store), a body slot, `max_body`, the
//!   timeout, redirects, the address guard (a page on a private address
//!   is refused unless the feed has `allow_private_networks`), the feed's
//!   User-Agent and its credentials, which go only where
//!   `fetch::may_carry_credentials` lets them; no validators;
//! - only http(s) pages; a page already read (the poll's own document, a
//!   page naming itself or an earlier one, a redirect back), or a body
//!   read already under another URL (a site that ignores `paged`) stops
//!   it; a WordPress page past the last (its 404) ends it quietly;
//! - a page that fails (an HTTP error, a web page, a document that does
//!   not parse, the store refusing it) stops it with a WARN line; what
//!   the poll and the pages before it stored stays, and the poll is still
//!   a success;
//! - a page with no entry within the retention stops it (older pages are
//!   older still).
//!
//! The gap stays a gap (counted, its interval speed-up kept: the feed did
//! outrun its polls); what the pages gave back, and whether they reached
//! the overlap, is in the gap's log line, the feed status and the
//! `poll-once` summary. RFC 5005's archived feeds (`prev-archive`,
//! `fh:complete`) are not read: a complete feed has no next page.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tracing::{debug, warn};
use url::Url;

use super::{count_revised, fetch_hop, parse_and_store, PollContext};
use crate::config::FeedConfig;
use crate::fetch::Validators;
use crate::item::ItemKey;
use crate::store::{FeedState, IngestReport};

/// `[poll] gap_pages` when unset: pages read after one gap at most.
pub const DEFAULT_GAP_PAGES: usize = 5;

/// What the next pages gave back after one gap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Pages read and stored.
    pub pages: usize,
    /// Entries they brought that this feed lacked (new items, and stories
    /// other feeds brought that now list this feed too).
    pub entries: usize,
    /// A page held an entry this feed brought before: nothing published
    /// between the two polls is missing.
    pub overlap: bool,
    /// Why the walk stopped before the overlap, for operators.
    pub stopped: Option<String>,
    /// The pages' ingest, summed (skipped known entries as duplicates).
    pub ingest: IngestReport,
}

impl Recovery {
    /// The gap's log line and status note, after "none of the N entries
    /// was in the last poll X ago".
    pub fn describe(&self) -> String {
        let pages = match self.pages {
            1 => "1 page".to_owned(),
            n => format!("{n} pages"),
        };
        if self.overlap {
            format!(
                "its next pages gave back {} entries published in between ({pages}, down to entries it had): none missed",
                self.entries
            )
        } else {
            format!(
                "its next pages gave back {} entries ({pages}) without reaching entries it had ({}): entries published in between may still have been missed",
                self.entries,
                self.stopped.as_deref().unwrap_or("stopped")
            )
        }
    }
}

/// Reads the next pages of `feed` from `first` after a gap, storing their
/// entries as the feed's, within the bounds of the module doc. `read`
/// holds the URLs already read in this poll (the target and where its
/// answer came from), `stored` the keys its document stored.
///
/// The overlap is an entry the feed brought *before this poll*: an entry
/// of this poll met again (a publisher that put out more between two page
/// reads shifts its pages; a server that ignores the page parameter serves
/// page 1 again) proves nothing, and the walk goes on.
#[allow(clippy::too_many_arguments)]
pub(super) async fn recover(
    ctx: &PollContext,
    feed: &FeedConfig,
    state: &mut FeedState,
    read: &[&Url],
    first: Url,
    // `first` is WordPress's `?paged=2`, not a link the document named.
    guessed: bool,
    stored: Vec<ItemKey>,
    started: DateTime<Utc>,
) -> Recovery {
    let mut rec = Recovery::default();
    let mut guessed = guessed;
    // The documents read, by their SHA-256 as the feed state keeps it: a
    // page that is one of them again (a site that ignores the page
    // parameter) ends the walk.
    let mut bodies: HashSet<String> = state.body_hash.iter().cloned().collect();
    let mut this_poll: HashSet<ItemKey> = stored.into_iter().collect();
    let mut seen: HashSet<Url> = read.iter().map(|u| without_fragment(u)).collect();
    let mut next = Some(first);
    while let Some(url) = next.take() {
        let n = rec.pages + 2;
        if rec.pages >= ctx.gap_pages {
            rec.stopped = Some(format!("the bound of {} pages, [poll] gap_pages", ctx.gap_pages));
            break;
        }
        if !matches!(url.scheme(), "http" | "https") {
            rec.stopped = Some(format!("page {n}, {url}, is not http(s)"));
            break;
        }
        if !seen.insert(without_fragment(&url)) {
            rec.stopped = Some(format!("page {n}, {url}, was read already (a loop)"));
            break;
        }
        let failed = |rec: &mut Recovery, why: String| {
            warn!(feed = %feed.name, url = %feed.url, page = %url, "The next page after a gap failed: {why}; entries read so far are kept.");
            rec.stopped = Some(format!("page {n}, {url}, failed: {why}"));
        };
        let fetched = match fetch_hop(ctx, feed, &url, &Validators::default()).await {
            Ok(f) if f.page => {
                failed(&mut rec, "it is a web page, not a feed".into());
                break;
            }
            Ok(f) => f,
            // WordPress answers a page past its last with a 404: the end
            // of the feed, not a failure.
            Err(e) if guessed && e.status() == Some(404) => {
                rec.stopped = Some(format!(
                    "page {n}, {url}, is past the feed's last page (HTTP 404)"
                ));
                break;
            }
            Err(e) => {
                failed(&mut rec, e.to_string());
                break;
            }
        };
        if fetched.url != url && !seen.insert(without_fragment(&fetched.url)) {
            rec.stopped = Some(format!(
                "page {n}, {url}, redirects to {}, read already (a loop)",
                fetched.url
            ));
            break;
        }
        // Held until the page is stored, as the feed's own body is.
        let _body_slot = fetched.body_slot;
        let Some(body) = fetched.body else {
            failed(&mut rec, "no body (304)".into());
            break;
        };
        if !bodies.insert(format!("{:x}", Sha256::digest(&body))) {
            rec.stopped = Some(format!("page {n}, {url}, is a document read already"));
            break;
        }
        let stored = match parse_and_store(
            ctx,
            feed,
            body,
            fetched.content_type,
            started,
            state.shared_links.clone(),
            Some(Arc::new(this_poll.clone())),
        )
        .await
        {
            Ok(stored) => stored,
            Err(e) => {
                failed(&mut rec, e.message().to_owned());
                break;
            }
        };
        count_revised(state, &stored.revised, started);
        rec.pages += 1;
        let (entries, known, report) = (stored.entries(), stored.known(), stored.report());
        rec.entries += stored.ingest.new + stored.ingest.merged;
        rec.ingest.new += report.new;
        rec.ingest.duplicate += report.duplicate;
        rec.ingest.merged += report.merged;
        rec.ingest.revised += report.revised;
        state.shared_links.remember(stored.parsed.shared_links);
        debug!(feed = %feed.name, page = %url, entries, known, "Read a next page after a gap.");
        if stored.older {
            rec.overlap = true;
            break;
        }
        this_poll.extend(stored.parsed.items.iter().map(|i| i.key.clone()));
        this_poll.extend(stored.parsed.sightings.iter().map(|s| s.key.clone()));
        if entries == 0 {
            rec.stopped = Some(format!("page {n}, {url}, holds no entry within the retention"));
            break;
        }
        guessed = false;
        next = match stored.parsed.next_page.as_deref() {
            Some(href) => match fetched.url.join(href) {
                Ok(u) => Some(u),
                Err(e) => {
                    rec.stopped = Some(format!(
                        "page {n} names a next page that is no URL ({href:?}: {e})"
                    ));
                    break;
                }
            },
            None if stored.parsed.wordpress => {
                guessed = true;
                wordpress_next(&url)
            }
            None => {
                rec.stopped = Some(format!("page {n}, the last, names no next page"));
                None
            }
        };
    }
    rec
}

/// WordPress's next page of the feed at `url`: its `paged` query
/// parameter (1 when absent) plus one, the other parameters kept, as
/// WordPress serves any feed's older posts (`/feed/?paged=2`) without
/// naming the page. `None` past a page number that makes no sense.
pub fn wordpress_next(url: &Url) -> Option<Url> {
    let mut page: u64 = 1;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in url.query_pairs() {
        if k == "paged" {
            page = v.trim().parse().ok().filter(|p| *p >= 1)?;
        } else {
            pairs.push((k.into_owned(), v.into_owned()));
        }
    }
    let mut next = url.clone();
    next.set_fragment(None);
    {
        let mut q = next.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        q.append_pair("paged", &(page.checked_add(1)?).to_string());
    }
    Some(next)
}

/// Pages are told apart without their fragment (`#x` is never sent).
fn without_fragment(u: &Url) -> Url {
    let mut u = u.clone();
    u.set_fragment(None);
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_says_what_came_back_and_whether_anything_may_be_missing() {
        let closed = Recovery {
            pages: 2,
            entries: 15,
            overlap: true,
            ..Recovery::default()
        };
        assert_eq!(
            closed.describe(),
            "its next pages gave back 15 entries published in between (2 pages, down to entries it had): none missed"
        );
        let open = Recovery {
            pages: 1,
            entries: 10,
            overlap: false,
            stopped: Some("the bound of 1 pages, [poll] gap_pages".into()),
            ..Recovery::default()
        };
        assert!(open
            .describe()
            .contains("(1 page) without reaching entries it had (the bound"));
        assert!(open.describe().ends_with("may still have been missed"));
    }

    #[test]
    fn wordpress_pages_count_up_and_keep_the_other_parameters() {
        let next = |u: &str| wordpress_next(&Url::parse(u).unwrap()).map(String::from);
        assert_eq!(
            next("https://akhbar.example/feed/").as_deref(),
            Some("https://akhbar.example/feed/?paged=2")
        );
        assert_eq!(
            next("https://akhbar.example/?feed=rss2&paged=2&cat=5").as_deref(),
            Some("https://akhbar.example/?feed=rss2&cat=5&paged=3")
        );
        assert_eq!(
            next("https://akhbar.example/category/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1/feed/?paged=3#x").as_deref(),
            Some("https://akhbar.example/category/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1/feed/?paged=4")
        );
        assert_eq!(next("https://akhbar.example/feed/?paged=abc"), None);
    }

    #[test]
    fn a_fragment_does_not_make_another_page() {
        let a = Url::parse("https://blog.example/feeds/posts/default?start-index=26#top").unwrap();
        let b = Url::parse("https://blog.example/feeds/posts/default?start-index=26").unwrap();
        assert_eq!(without_fragment(&a), b);
    }
}
