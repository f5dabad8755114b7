//! Entries lost between two polls of a fast feed, and the interval that
//! adapts to it.
//!
//! Most feeds carry only their newest N entries (a ticker 10 to 30). When
//! the publisher puts out more than N between two of our polls, the ones
//! that scrolled out in between were never in any document we fetched:
//! they are lost, and nothing else would say so. This module owns the
//! rule that notices it (a *gap*) from what one poll stored, and the rule
//! that shortens the feed's interval after a gap and lengthens it again
//! when polls overlap comfortably. The poller applies both to the feed's
//! [`FeedState`], where they persist across polls, restarts and
//! `poll-once` runs (JSON with serde defaults, so older states read as
//! "never a gap, configured interval").
//!
//! # A gap
//!
//! A parsed document is a gap when **none** of the entries read from it is
//! one this feed brought before (skipped as known from this feed, or found
//! at commit already carrying it); an entry other feeds brought (a
//! sighting) is new to this feed. And only when we can tell:
//! - the previous attempt was a success that read at least one entry, and
//!   it was recent: at most twice the interval then in force before this
//!   poll. So never on a feed's first poll, nor on the first poll of a
//!   feed a reload added back after a while, nor after a restart that left
//!   the daemon down for longer, nor on the first success after failures
//!   (a network outage and a store failure included): entries lost then
//!   are lost to the failure or the downtime, which is already reported,
//!   and polling faster would not have saved them. (`poll-once` run from
//!   cron much less often than the feed's interval reports no gap for the
//!   same reason: its cadence, not the interval, decides what it misses.)
//! - the document read at least [`MIN_WINDOW`] entries within the
//!   retention: a feed that shows one entry (a section ticker) replaces it
//!   at every change, and a changed one-entry document says nothing about
//!   what was missed;
//! - no entry of the document was left unread beyond `[poll] max_items`:
//!   the unread tail may hold the overlap (the entries are in the document,
//!   not lost between polls), and their loss is reported as `over_limit`.
//!
//! A 304 or a body identical to the last one is never a gap (nothing
//! changed); it counts as a comfortable overlap (below). False positives
//! left in on purpose: a feed that changes its link scheme, or a "most
//! read" list that is reshuffled whole, shows no known entry once. It is
//! reported once (a link-scheme change also stores each story again, which
//! the operator wants to know), the interval is halved once, and the polls
//! after it overlap again, so it relaxes back after [`CALM_POLLS`] of them
//! (about two polls more than the configured interval would have made). A
//! feed that keeps doing it (a link with a session id that changes at every
//! request) keeps being reported and is polled at the fastest: that is what
//! the operator should see, as such a feed also stores every entry again.
//! Entry dates are not used: publishers' time zones are too often wrong by
//! hours to tell "all entries published after the last poll" from an old
//! list re-keyed.
//!
//! What a gap lost may still be read back: when the document names its
//! next page, the poller reads the pages after it (`poller::pages`). The
//! gap is counted and speeds the feed up all the same: the feed outran
//! its polls, and the pages are a repair with a bound.
//!
//! # The interval
//!
//! After a gap the interval in force is halved (the configured interval
//! divided by 2^[`FeedState::speedup`]), at most [`MAX_SPEEDUP`] times (8×
//! faster); the poller still never polls more often than `[poll]
//! min_interval` nor than the publisher asks (`<ttl>`, `sy:updatePeriod`,
//! `Cache-Control`, `Expires`; Retry-After as ever), and its WARN line says
//! when one of those keeps it from going faster. After [`CALM_POLLS`]
//! polls in a row in which fewer than half the entries read were new (or
//! 304s), it steps back one halving. With a steady rate this settles: a
//! step back doubles the new entries per poll, which were fewer than half
//! the window, so it does not bring the gap back; a poll with half or more
//! new is "busy" and starts the count again. A config change of the
//! feed's interval starts from the new interval (the speed-up is kept
//! with the interval it applies to, [`FeedState::speedup_base`]).

use std::time::Duration;

use crate::store::FeedState;

/// At most this many halvings of the configured interval: 8× faster.
pub const MAX_SPEEDUP: u32 = 3;
/// Comfortable polls in a row before one halving is taken back.
pub const CALM_POLLS: u32 = 4;
/// A document must read at least this many entries to show a gap.
pub const MIN_WINDOW: usize = 2;

/// What the previous attempt left in the feed's state, read before this
/// poll changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Before {
    /// When it succeeded (Unix seconds); `None` when the previous attempt
    /// failed or there was none.
    pub success_at: Option<i64>,
    /// Entries the last document read, within the retention and
    /// `max_items`.
    pub entries: usize,
    /// The interval in force after it (seconds), if saved.
    pub interval: Option<u64>,
}

impl Before {
    pub fn of(state: &FeedState) -> Before {
        let ok = state.last_attempt.is_some()
            && state.last_success == state.last_attempt
            && state.consecutive_failures == 0
            && state.last_error.is_none();
        Before {
            success_at: state.last_success.filter(|_| ok),
            entries: state.items_seen.saturating_sub(state.items_too_old),
            interval: state.interval,
        }
    }
}

/// What one parsed document showed this feed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Entries read within the retention (not beyond `max_items`).
    pub entries: usize,
    /// Of them, entries this feed brought before.
    pub known: usize,
    /// Entries beyond `[poll] max_items`, not read.
    pub over_limit: usize,
}

/// What a poll says about the interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// None of the document's entries was in the last poll.
    Gap,
    /// Half the entries or more were new: the interval is about right.
    Busy,
    /// Fewer than half were new, or nothing changed (304).
    Calm,
    /// Nothing to tell from (see the module doc).
    Unknown,
}

/// Judges one parsed document against the previous poll, at `now`
/// (Unix seconds), `configured` being the feed's configured interval.
pub fn judge(before: &Before, w: &Window, now: i64, configured: Duration) -> Verdict {
    if w.entries == 0 || w.over_limit > 0 {
        return Verdict::Unknown;
    }
    let new = w.entries.saturating_sub(w.known);
    if w.known == 0 {
        let in_force = before.interval.unwrap_or(configured.as_secs()).max(60);
        let recent = before
            .success_at
            .is_some_and(|t| now.saturating_sub(t) <= 2 * i64::try_from(in_force).unwrap_or(i64::MAX));
        return if recent && before.entries > 0 && w.entries >= MIN_WINDOW {
            Verdict::Gap
        } else {
            Verdict::Unknown
        };
    }
    if 2 * new < w.entries {
        Verdict::Calm
    } else {
        Verdict::Busy
    }
}

/// The interval in force at `speedup` halvings of `configured`, before the
/// poller's bounds (`min_interval`, the publisher's ask) are applied.
pub fn sped_up(configured: Duration, speedup: u32) -> Duration {
    configured / 2u32.pow(speedup.min(MAX_SPEEDUP))
}

/// How a verdict moved the speed-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    None,
    /// One halving more (or already at [`MAX_SPEEDUP`] when equal).
    Faster {
        from: u32,
        to: u32,
    },
    /// One halving taken back.
    Slower {
        to: u32,
    },
    /// The configured interval changed: the speed-up starts again from it.
    Reset,
}

/// Applies a verdict at `now` to the state's gap count and speed-up, for a
/// feed configured at `configured`.
pub fn step(state: &mut FeedState, configured: Duration, verdict: Verdict, now: i64) -> Change {
    let mut change = Change::None;
    if state.speedup > 0 && state.speedup_base != Some(configured.as_secs()) {
        state.speedup = 0;
        state.calm_polls = 0;
        state.speedup_base = None;
        change = Change::Reset;
    }
    match verdict {
        Verdict::Gap => {
            let from = state.speedup;
            state.speedup = (from + 1).min(MAX_SPEEDUP);
            state.speedup_base = Some(configured.as_secs());
            state.calm_polls = 0;
            state.gaps += 1;
            state.last_gap = Some(now);
            change = Change::Faster {
                from,
                to: state.speedup,
            };
        }
        Verdict::Busy => state.calm_polls = 0,
        Verdict::Calm if state.speedup > 0 => {
            state.calm_polls += 1;
            if state.calm_polls >= CALM_POLLS {
                state.speedup -= 1;
                state.calm_polls = 0;
                if state.speedup == 0 {
                    state.speedup_base = None;
                }
                change = Change::Slower { to: state.speedup };
            }
        }
        Verdict::Calm | Verdict::Unknown => {}
    }
    change
}

/// A duration as operators read it: `7m30s`, `1h`, `45s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const M15: Duration = Duration::from_secs(900);
    const NOW: i64 = 1_796_000_000;

    fn before(ago: i64, entries: usize) -> Before {
        Before {
            success_at: Some(NOW - ago),
            entries,
            interval: None,
        }
    }

    fn window(entries: usize, known: usize) -> Window {
        Window {
            entries,
            known,
            over_limit: 0,
        }
    }

    #[test]
    fn a_gap_is_a_document_with_no_known_entry_after_a_recent_success() {
        assert_eq!(judge(&before(900, 20), &window(20, 0), NOW, M15), Verdict::Gap);
        assert_eq!(judge(&before(900, 20), &window(2, 0), NOW, M15), Verdict::Gap);
        // One known entry is an overlap: nothing was missed.
        assert_eq!(judge(&before(900, 20), &window(20, 1), NOW, M15), Verdict::Busy);
        assert_eq!(judge(&before(900, 20), &window(20, 10), NOW, M15), Verdict::Busy);
        assert_eq!(judge(&before(900, 20), &window(20, 11), NOW, M15), Verdict::Calm);
    }

    #[test]
    fn no_gap_where_nothing_can_be_told() {
        let cases = [
            (
                "first poll",
                Before {
                    success_at: None,
                    entries: 0,
                    interval: None,
                },
                window(20, 0),
            ),
            (
                "after failures",
                Before {
                    success_at: None,
                    entries: 20,
                    interval: None,
                },
                window(20, 0),
            ),
            ("previous read nothing", before(900, 0), window(20, 0)),
            (
                "long after the last success (restart, re-added)",
                before(3 * 900, 20),
                window(20, 0),
            ),
            ("one-entry feed", before(900, 1), window(1, 0)),
            ("empty document", before(900, 20), window(0, 0)),
            (
                "truncated by max_items",
                before(900, 20),
                Window {
                    entries: 20,
                    known: 0,
                    over_limit: 5,
                },
            ),
        ];
        for (what, b, w) in cases {
            assert_eq!(judge(&b, &w, NOW, M15), Verdict::Unknown, "{what}");
        }
        // "Recent" follows the interval in force then, not the configured one.
        let fast = Before {
            interval: Some(225),
            ..before(900, 20)
        };
        assert_eq!(judge(&fast, &window(20, 0), NOW, M15), Verdict::Unknown);
        let fast = Before {
            interval: Some(225),
            ..before(450, 20)
        };
        assert_eq!(judge(&fast, &window(20, 0), NOW, M15), Verdict::Gap);
    }

    #[test]
    fn the_previous_attempt_must_have_succeeded() {
        let ok = FeedState {
            last_attempt: Some(NOW - 900),
            last_success: Some(NOW - 900),
            items_seen: 25,
            items_too_old: 5,
            ..Default::default()
        };
        assert_eq!(Before::of(&ok).success_at, Some(NOW - 900));
        assert_eq!(Before::of(&ok).entries, 20);
        // A failure since (an outage counts none, but leaves its error).
        for failed in [
            FeedState {
                last_attempt: Some(NOW - 300),
                ..ok.clone()
            },
            FeedState {
                consecutive_failures: 1,
                ..ok.clone()
            },
            FeedState {
                last_error: Some("network outage suspected".into()),
                ..ok.clone()
            },
        ] {
            assert_eq!(Before::of(&failed).success_at, None, "{failed:?}");
        }
        assert_eq!(Before::of(&FeedState::default()).success_at, None);
    }

    #[test]
    fn gaps_halve_the_interval_down_to_an_eighth() {
        let mut s = FeedState::default();
        for (n, want) in [(1, 450), (2, 225), (3, 112), (4, 112)] {
            step(&mut s, M15, Verdict::Gap, NOW + n);
            assert_eq!(s.gaps, n as u64);
            assert_eq!(s.last_gap, Some(NOW + n));
            assert_eq!(sped_up(M15, s.speedup).as_secs(), want, "after {n} gaps");
        }
        assert_eq!(
            step(&mut s, M15, Verdict::Gap, NOW),
            Change::Faster { from: 3, to: 3 }
        );
    }

    #[test]
    fn calm_polls_in_a_row_relax_one_step_and_busy_ones_restart_the_count() {
        let mut s = FeedState::default();
        step(&mut s, M15, Verdict::Gap, NOW);
        step(&mut s, M15, Verdict::Gap, NOW);
        assert_eq!(s.speedup, 2);
        for _ in 1..CALM_POLLS {
            assert_eq!(step(&mut s, M15, Verdict::Calm, NOW), Change::None);
        }
        assert_eq!(step(&mut s, M15, Verdict::Busy, NOW), Change::None);
        assert_eq!(s.calm_polls, 0, "a busy poll restarts the count");
        for _ in 1..CALM_POLLS {
            step(&mut s, M15, Verdict::Calm, NOW);
        }
        assert_eq!(step(&mut s, M15, Verdict::Calm, NOW), Change::Slower { to: 1 });
        // Unknown polls (a first success after failures) change nothing.
        for _ in 0..10 {
            assert_eq!(step(&mut s, M15, Verdict::Unknown, NOW), Change::None);
        }
        for _ in 0..CALM_POLLS {
            step(&mut s, M15, Verdict::Calm, NOW);
        }
        assert_eq!((s.speedup, s.speedup_base), (0, None));
        assert_eq!(s.gaps, 2, "the count stays");
        // At the configured interval calm polls count nothing.
        step(&mut s, M15, Verdict::Calm, NOW);
        assert_eq!(s.calm_polls, 0);
    }

    #[test]
    fn a_new_configured_interval_starts_from_itself() {
        let mut s = FeedState::default();
        step(&mut s, M15, Verdict::Gap, NOW);
        step(&mut s, M15, Verdict::Gap, NOW);
        let m10 = Duration::from_secs(600);
        assert_eq!(step(&mut s, m10, Verdict::Busy, NOW), Change::Reset);
        assert_eq!((s.speedup, s.speedup_base), (0, None));
        assert_eq!(
            step(&mut s, m10, Verdict::Gap, NOW),
            Change::Faster { from: 0, to: 1 }
        );
        assert_eq!(sped_up(m10, s.speedup), Duration::from_secs(300));
        // The state reads back as saved (JSON, fields at defaults left out);
        // a state saved before gaps existed reads as "no gap, no speed-up".
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<FeedState>(&json).unwrap(), s);
        let old: FeedState = serde_json::from_str(r#"{"items_seen":20,"last_success":5}"#).unwrap();
        assert_eq!(
            (old.gaps, old.speedup, old.last_gap, old.interval),
            (0, 0, None, None)
        );
    }

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(human(Duration::from_secs(450)), "7m30s");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::ZERO), "0s");
    }
}
