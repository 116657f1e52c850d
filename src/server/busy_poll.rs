//! Adaptive busy polling (`busy-poll-us`): while requests come in close together, a task keeps
//! its worker from going to sleep between them, so the next request is found by a zero-timeout
//! epoll poll instead of by waking a sleeping thread.
//!
//! Why: waking a thread that sleeps on an idle core costs the *sender* (here the client's
//! `write`) an inter-processor interrupt, and on a virtual machine an IPI is a VM exit. On the
//! 2-core Firecracker VM this was measured on, one IPI cost the client about 11 µs, and a
//! many-clients, one-request-at-a-time load (redis-benchmark -P 1) is bound by the client: the
//! server's sleeps, not its speed, decided the result (README, Performance).
//!
//! How much it polls follows the kernel's haltpoll cpuidle governor: the window starts at 0,
//! grows (doubling from `GROW_START_US`, up to `busy-poll-us`) whenever an idle period ended
//! within `busy-poll-us`, so polling would have caught it, and halves (to 0 below the start
//! value) whenever an idle period outlasted it. A server that is idle, or receives requests
//! further apart than `busy-poll-us`, therefore does not poll at all; the CPU spent is bounded
//! by the gaps it fills. While polling finds nothing new, each turn calls `sched_yield`, so a
//! thread sharing the core (clients on a machine without dedicated cores) runs first.
//!
//! This module never touches connections or the store: it only keeps a worker awake.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;
use tokio::sync::Notify;

/// The first non-zero window, as haltpoll's `guest_halt_poll_grow_start` (capped by the limit).
const GROW_START_US: u64 = 10;

static ENABLED: AtomicBool = AtomicBool::new(false);
static LAST: AtomicU64 = AtomicU64::new(0);
static SLEEPING: AtomicBool = AtomicBool::new(false);
/// When the request that woke the poller came in.
static WOKEN_AT: AtomicU64 = AtomicU64::new(0);
static WAKE: Notify = Notify::const_new();

fn micros() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Called by a connection after it served a batch.
#[inline]
pub fn activity() {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let now = micros();
    LAST.store(now, Ordering::Relaxed);
    // One swap: of two connections finishing together only one wakes the poller (two
    // notifications would leave a stored permit, and the poller's next sleep would end at once
    // with a stale idle time).
    if SLEEPING.load(Ordering::Relaxed) && SLEEPING.swap(false, Ordering::Relaxed) {
        WOKEN_AT.store(now, Ordering::Relaxed);
        WAKE.notify_one();
    }
}

/// The next window after an idle period of `idle_us`: grow when polling up to `limit_us` would
/// have caught the request that ended it, shrink when it would not.
fn adapt(window_us: u64, idle_us: u64, limit_us: u64) -> u64 {
    let start = GROW_START_US.min(limit_us);
    if idle_us <= limit_us {
        (window_us * 2).clamp(start, limit_us)
    } else {
        let halved = window_us / 2;
        if halved < start {
            0
        } else {
            halved
        }
    }
}

/// Starts the poller; `limit_us` 0 turns it off.
pub fn spawn(limit_us: u64) {
    if limit_us == 0 {
        return;
    }
    ENABLED.store(true, Ordering::Relaxed);
    tokio::spawn(async move {
        let mut window = 0;
        let mut seen = 0;
        loop {
            let last = LAST.load(Ordering::Relaxed);
            if micros().saturating_sub(last) < window {
                if last == seen {
                    // Nothing came in since the previous turn: a thread that shares this core
                    // goes first.
                    // SAFETY: sched_yield has no preconditions.
                    unsafe { libc::sched_yield() };
                }
                seen = last;
                tokio::task::yield_now().await;
                continue;
            }
            SLEEPING.store(true, Ordering::Relaxed);
            WAKE.notified().await;
            // The idle period: from the last request before sleeping to the one that woke us.
            let idle = WOKEN_AT.load(Ordering::Relaxed).saturating_sub(last);
            window = adapt(window, idle, limit_us);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::adapt;

    #[test]
    fn the_window_follows_the_idle_periods() {
        // Short gaps: from nothing, 10, 20, 40, then the limit.
        let mut w = 0;
        let mut seen = Vec::new();
        for _ in 0..5 {
            w = adapt(w, 30, 50);
            seen.push(w);
        }
        assert_eq!(seen, vec![10, 20, 40, 50, 50]);
        // Long gaps: halves, and below the start value stops polling.
        let mut seen = Vec::new();
        for _ in 0..4 {
            w = adapt(w, 1_000, 50);
            seen.push(w);
        }
        assert_eq!(seen, vec![25, 12, 0, 0]);
        // A limit under the start value is used as it is.
        assert_eq!(adapt(0, 3, 5), 5);
        assert_eq!(adapt(5, 6, 5), 0);
    }
}
