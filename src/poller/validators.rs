//! Validators a server gets wrong.
//!
//! A conditional GET trusts the server: when it answers 304 to our
//! `If-None-Match` / `If-Modified-Since`, the document is taken as
//! unchanged and not fetched. A server whose validators do not follow its
//! document (a `Last-Modified` that is the template's date, an ETag that
//! names the code rather than the content, a cache answering for a stale
//! copy) would keep a feed "not modified" for good while its entries come
//! and go: every entry lost, and nothing would say so, since a 304 is a
//! success. Miniflux leaves this to an operator's per-feed switch ("ignore
//! HTTP cache"), once someone noticed.
//!
//! So a feed polled with validators is fetched without them once its last
//! full answer is [`REVALIDATE_EVERY`] old (about one unconditional request
//! per feed and day: a body identical to the last is still not parsed
//! again, by its hash). And a 200 whose document differs from the last one
//! parsed while it carries the very validators we held (the same ETag; or,
//! where neither side has one, the same Last-Modified) makes them suspect
//! ([`contradicted`]); if that document also brings entries this feed
//! lacked (new items, revisions, stories other feeds brought), they are
//! proven wrong: a request with them would have been answered 304 while
//! those entries were there. The feed's validators are then ignored for
//! good ([`FeedState::validators_ignored`], shown in its status), and it is
//! polled unconditionally. A document that changed only outside its
//! entries (a build date, a comment) under the same validators hid nothing
//! worth a full download at every poll, so it keeps them.

use std::time::Duration;

use crate::fetch::Validators;
use crate::store::FeedState;

/// A feed whose last full (200) answer is this old is fetched without
/// validators.
pub const REVALIDATE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The validators to send on a poll at `now` (Unix seconds): the feed's
/// own, or none when they are ignored or its last full answer is a day
/// old. A state from before this rule (no `last_full`) keeps its
/// validators: the next 200 starts the clock.
pub fn to_send(state: &FeedState, now: i64) -> Validators {
    let held = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    if held.etag.is_none() && held.last_modified.is_none() {
        return held;
    }
    let stale = state
        .last_full
        .is_some_and(|t| now.saturating_sub(t) >= REVALIDATE_EVERY.as_secs() as i64);
    if state.validators_ignored || stale {
        Validators::default()
    } else {
        held
    }
}

/// Whether a 200 makes the validators `state` holds suspect: its document
/// differs from the last one parsed (`changed`), yet the answer carries the
/// same ETag as held, or, where neither has an ETag, the same
/// Last-Modified. (The poller holds them wrong when the document also
/// brought entries the feed lacked.)
pub fn contradicted(state: &FeedState, answer: &Validators, changed: bool) -> bool {
    if !changed || state.body_hash.is_none() {
        return false;
    }
    match (&state.etag, &answer.etag) {
        (Some(held), Some(got)) => same_etag(held, got),
        (None, None) => state.last_modified.is_some() && state.last_modified == answer.last_modified,
        _ => false,
    }
}

/// ETags compared weakly (RFC 9110 §8.8.3.2: `W/"x"` and `"x"` name the
/// same representation for this purpose), as `If-None-Match` is.
fn same_etag(a: &str, b: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    opaque(a) == opaque(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(etag: Option<&str>, last_modified: Option<&str>, last_full: Option<i64>) -> FeedState {
        FeedState {
            etag: etag.map(str::to_owned),
            last_modified: last_modified.map(str::to_owned),
            last_full,
            body_hash: Some("aa".into()),
            ..FeedState::default()
        }
    }

    #[test]
    fn validators_are_dropped_once_a_day_and_when_ignored() {
        let day = REVALIDATE_EVERY.as_secs() as i64;
        let s = state(Some("\"v1\""), None, Some(1_000));
        assert_eq!(to_send(&s, 1_000 + day - 1).etag.as_deref(), Some("\"v1\""));
        assert_eq!(to_send(&s, 1_000 + day), Validators::default());
        let old = state(Some("\"v1\""), None, None);
        assert_eq!(
            to_send(&old, i64::MAX).etag.as_deref(),
            Some("\"v1\""),
            "no clock yet"
        );
        let ignored = FeedState {
            validators_ignored: true,
            ..state(Some("\"v1\""), Some("Sat, 05 Dec 2026 10:00:00 GMT"), Some(1_000))
        };
        assert_eq!(to_send(&ignored, 1_001), Validators::default());
    }

    #[test]
    fn a_changed_document_under_the_same_validator_contradicts_it() {
        let answer = |etag: Option<&str>, lm: Option<&str>| Validators {
            etag: etag.map(str::to_owned),
            last_modified: lm.map(str::to_owned),
        };
        let lm = "Sat, 05 Dec 2026 10:00:00 GMT";
        let s = state(Some("\"v1\""), Some(lm), Some(1));
        assert!(contradicted(&s, &answer(Some("W/\"v1\""), Some(lm)), true));
        assert!(
            !contradicted(&s, &answer(Some("\"v1\""), Some(lm)), false),
            "same document"
        );
        assert!(
            !contradicted(&s, &answer(Some("\"v2\""), Some(lm)), true),
            "the ETag followed"
        );
        assert!(!contradicted(&s, &answer(None, Some(lm)), true), "not comparable");
        let dated = state(None, Some(lm), Some(1));
        assert!(contradicted(&dated, &answer(None, Some(lm)), true));
        assert!(!contradicted(
            &dated,
            &answer(None, Some("Sun, 06 Dec 2026 10:00:00 GMT")),
            true
        ));
        let first = FeedState {
            body_hash: None,
            ..state(Some("\"v1\""), None, None)
        };
        assert!(
            !contradicted(&first, &answer(Some("\"v1\""), None), true),
            "nothing parsed before"
        );
    }
}
