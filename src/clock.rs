//! Wall-clock time for everything that schedules or stamps: the poller's due
//! times, first-seen dates, feed state.
//!
//! The daemon uses [`SystemClock`]. Tests use [`ManualClock`] and move time
//! forward themselves, so that a 15-minute interval or a 6-hour backoff is
//! checked in microseconds and without sleeping. Network timeouts stay on
//! tokio's own timer: a manual clock never makes a real socket time out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A source of "now" and of waiting until a moment.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once `now() >= t`.
    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            // Re-check after waking: the wall clock may have been adjusted.
            loop {
                let left = t - Utc::now();
                match left.to_std() {
                    Ok(d) if !d.is_zero() => tokio::time::sleep(d).await,
                    _ => return,
                }
            }
        })
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: watch::Sender::new(start),
        }
    }

    /// Moves time forward, waking every sleeper whose moment has come.
    pub fn advance(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).expect("duration in range");
        self.now.send_modify(|t| *t += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, which outlives the future.
            let _ = rx.wait_for(|now| *now >= t).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_in_order() {
        let clock = Arc::new(ManualClock::new(DateTime::UNIX_EPOCH));
        let t1 = DateTime::UNIX_EPOCH + chrono::Duration::seconds(60);
        let c = clock.clone();
        let sleeper = tokio::spawn(async move { c.sleep_until(t1).await });
        clock.advance(std::time::Duration::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(std::time::Duration::from_secs(1));
        tokio::time::timeout(std::time::Duration::from_secs(10), sleeper)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(clock.now(), t1);
    }
}
