//! Talking to systemd: readiness and status notifications (`sd_notify`), the
//! watchdog, socket activation, and whether stderr goes to the journal.
//!
//! Every function is a no-op outside systemd (no `NOTIFY_SOCKET`,
//! `LISTEN_FDS` or `JOURNAL_STREAM`), so the same binary runs by hand.

use std::os::fd::{FromRawFd, RawFd};
use std::time::Duration;

use sd_notify::NotifyState;
use tracing::warn;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "Cannot notify systemd.");
    }
}

/// READY=1 with a status line: the store is open and the listener bound.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A STATUS= line shown by `systemctl status`.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// RELOADING=1, with the MONOTONIC_USEC that systemd 253 and later require.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// STOPPING=1.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// WATCHDOG=1: only sent when the daemon really makes progress.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// The watchdog interval systemd expects pings within (`WatchdogSec=`).
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}

/// The listening socket passed by systemd socket activation
/// (`feedwire.socket`), if any.
pub fn activated_listener() -> std::io::Result<Option<std::net::TcpListener>> {
    let mut fds = sd_notify::listen_fds()?;
    let Some(fd) = fds.next() else { return Ok(None) };
    // SAFETY: systemd hands these descriptors to us alone (LISTEN_PID is
    // checked by `listen_fds`) and we take ownership of the first one once.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd as RawFd) };
    listener.set_nonblocking(true)?;
    Ok(Some(listener))
}

/// True when stderr is connected to the journal (`JOURNAL_STREAM` names
/// stderr's device and inode), so log lines need no timestamps of ours.
pub fn stderr_is_journal() -> bool {
    use std::os::fd::AsRawFd;
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    let fd = std::io::stderr().as_raw_fd();
    let path = format!("/proc/self/fd/{fd}");
    match std::fs::metadata(path) {
        Ok(meta) => {
            use std::os::unix::fs::MetadataExt;
            meta.dev() == dev && meta.ino() == ino
        }
        Err(_) => false,
    }
}
