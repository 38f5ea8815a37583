//! The client-side quota for Tag Manager: one sliding window per Cloud
//! project (`Bearer::project_id()`), shared by every
//! [`GtmProvider`](super::GtmProvider) in the process through a global
//! registry, so a run never provokes Google's 403 `rateLimitExceeded`.
//!
//! Google allows 0.25 QPS per project, counted on a 100-second sliding
//! window: at most 25 requests in any 100 s ([`RateWindow::default`]). A
//! project whose quota was raised passes its own [`RateWindow`] (or sets
//! `ACCESSCTL_GTM_RATE`, e.g. `50/100s`).
//!
//! Google counts arrivals, which the client cannot see; it only knows that a
//! request arrived between sending it and hearing the answer. So a finished
//! request is recorded at the time its answer came (an upper bound of its
//! arrival), a request in flight counts as inside every window, and a new
//! request goes only when fewer than `requests` of those can share a window
//! with it (plus a small margin for the server's own clock steps). An idle
//! project may send its whole window at once. Time is tokio's, so a paused
//! test clock drives the limiter too.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Environment variable overriding the window: `REQUESTS/SECONDSs`.
pub const RATE_ENV: &str = "ACCESSCTL_GTM_RATE";

/// At most `requests` requests in any sliding `window`, per project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateWindow {
    pub requests: u32,
    pub window: Duration,
}

impl Default for RateWindow {
    /// Google's default quota: 25 requests per 100 s (0.25 QPS).
    fn default() -> Self {
        RateWindow {
            requests: 25,
            window: Duration::from_secs(100),
        }
    }
}

impl RateWindow {
    /// `25/100s`, `3/2s`, `10/1500ms`, or `25/100` (seconds).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "a GTM rate looks like `25/100s` (requests per window of seconds), not `{}`",
                crate::escape::text(text)
            )
        };
        let (requests, window) = text.trim().split_once('/').ok_or_else(bad)?;
        let requests: u32 = requests.trim().parse().map_err(|_| bad())?;
        let window = window.trim();
        let window = if let Some(ms) = window.strip_suffix("ms") {
            Duration::from_millis(ms.trim().parse().map_err(|_| bad())?)
        } else {
            let secs = window.strip_suffix('s').unwrap_or(window);
            Duration::from_secs(secs.trim().parse().map_err(|_| bad())?)
        };
        if requests == 0 || window.is_zero() {
            return Err(format!(
                "a GTM rate needs at least one request in a non-empty window, not `{}`",
                crate::escape::text(text)
            ));
        }
        Ok(RateWindow { requests, window })
    }

    /// [`RATE_ENV`] if set, else the default.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(RATE_ENV) {
            Ok(text) => Self::parse(&text).map_err(|e| format!("{RATE_ENV}: {e}")),
            Err(_) => Ok(Self::default()),
        }
    }

    /// Sustained requests per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.requests) / self.window.as_secs_f64()
    }

    /// Added to the window: the server's clock may step coarser than ours.
    fn span(&self) -> Duration {
        self.window + (self.window / 50).min(Duration::from_secs(1))
    }
}

#[derive(Debug, Default)]
struct Slots {
    /// When the answers of finished requests came, oldest first; only those
    /// that may still share a window with a new request.
    done: Vec<Instant>,
    /// Requests sent whose answer has not come.
    pending: usize,
}

impl Slots {
    /// When the next request may go (given `pending` in flight), or `None`
    /// while the requests in flight alone fill the window.
    fn next_at(&self, rate: &RateWindow, pending: usize, now: Instant) -> Option<Instant> {
        let limit = rate.requests as usize;
        if pending >= limit {
            return None;
        }
        // At most `allowed` finished requests may share the window.
        let allowed = limit - 1 - pending;
        let mut times = self.done.clone();
        times.sort_unstable_by(|a, b| b.cmp(a));
        Some(match times.get(allowed) {
            None => now,
            Some(t) => now.max(*t + rate.span()),
        })
    }

    fn prune(&mut self, rate: &RateWindow, now: Instant) {
        let span = rate.span();
        self.done.retain(|t| *t + span > now);
    }
}

/// One project's window.
#[derive(Debug)]
pub struct ProjectLimiter {
    rate: RateWindow,
    slots: Mutex<Slots>,
    changed: Notify,
}

/// A request's place in the window; dropping it (when the answer came, or
/// the request was abandoned) records the time.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<ProjectLimiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut slots = self.limiter.slots();
        slots.pending = slots.pending.saturating_sub(1);
        slots.done.push(now);
        drop(slots);
        self.limiter.changed.notify_waiters();
    }
}

/// Limiters by (project, window).
type Registry = HashMap<(String, RateWindow), Arc<ProjectLimiter>>;

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

/// The process-wide limiter of `project` under `rate` (providers of one
/// project with the same window share it).
pub fn for_project(project: &str, rate: RateWindow) -> Arc<ProjectLimiter> {
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    registry
        .entry((project.to_owned(), rate))
        .or_insert_with(|| Arc::new(ProjectLimiter::new(rate)))
        .clone()
}

impl ProjectLimiter {
    pub fn new(rate: RateWindow) -> Self {
        ProjectLimiter {
            rate,
            slots: Mutex::default(),
            changed: Notify::new(),
        }
    }

    pub fn rate(&self) -> RateWindow {
        self.rate
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wait until a request may be sent; hold the permit until its answer
    /// has been read.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let wait = {
                let now = Instant::now();
                let mut slots = self.slots();
                slots.prune(&self.rate, now);
                match slots.next_at(&self.rate, slots.pending, now) {
                    Some(at) if at <= now => {
                        slots.pending += 1;
                        return Permit {
                            limiter: Arc::clone(self),
                        };
                    }
                    other => other,
                }
            };
            match wait {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = &mut changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Google refused a request for quota anyway (another process, another
    /// tool on the project): treat the window as full from now.
    pub fn defer(&self) {
        let now = Instant::now();
        let mut slots = self.slots();
        slots.done = vec![now; self.rate.requests as usize];
        drop(slots);
        self.changed.notify_waiters();
    }

    /// How long `requests` more requests take from now, each answered at
    /// once (requests in flight counted as answered now).
    pub fn eta(&self, requests: usize) -> Duration {
        if requests == 0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let mut sim = {
            let slots = self.slots();
            let mut done = slots.done.clone();
            done.extend(std::iter::repeat_n(now, slots.pending));
            Slots { done, pending: 0 }
        };
        let mut last = now;
        for _ in 0..requests {
            let at = sim.next_at(&self.rate, 0, last).unwrap_or(last);
            sim.done.push(at);
            // Only the newest `requests` times can matter.
            if sim.done.len() > 2 * self.rate.requests as usize {
                sim.done.sort_unstable();
                let excess = sim.done.len() - self.rate.requests as usize;
                sim.done.drain(..excess);
            }
            last = at;
        }
        last - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(requests: u32, secs: u64) -> RateWindow {
        RateWindow {
            requests,
            window: Duration::from_secs(secs),
        }
    }

    #[test]
    fn parses_rates() {
        assert_eq!(RateWindow::parse("25/100s"), Ok(rate(25, 100)));
        assert_eq!(RateWindow::parse(" 3 / 2 "), Ok(rate(3, 2)));
        assert_eq!(
            RateWindow::parse("10/1500ms").unwrap().window,
            Duration::from_millis(1500)
        );
        for bad in ["", "25", "x/100s", "25/abc", "0/100s", "25/0s", "-1/2s"] {
            let err = RateWindow::parse(bad).unwrap_err();
            assert!(err.contains("GTM rate"), "{bad}: {err}");
        }
        assert!((RateWindow::default().per_second() - 0.25).abs() < 1e-9);
    }

    /// Send times of `n` back-to-back requests, each answered at once.
    async fn send_times(limiter: &Arc<ProjectLimiter>, n: usize) -> Vec<Instant> {
        let mut times = Vec::new();
        for _ in 0..n {
            let permit = limiter.acquire().await;
            times.push(Instant::now());
            drop(permit);
        }
        times
    }

    fn busiest(times: &[Instant], window: Duration) -> usize {
        (0..times.len())
            .map(|i| {
                times[i..]
                    .iter()
                    .take_while(|t| t.duration_since(times[i]) < window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_holds_more_than_the_limit() {
        for (requests, secs) in [(1, 4), (3, 2), (25, 100)] {
            let r = rate(requests, secs);
            let limiter = Arc::new(ProjectLimiter::new(r));
            let t0 = Instant::now();
            let predicted = limiter.eta(requests as usize * 3 + 1);
            let times = send_times(&limiter, requests as usize * 3 + 1).await;
            assert_eq!(busiest(&times, r.window), requests as usize);
            assert!(times[..requests as usize].iter().all(|t| *t == t0));
            let took = *times.last().unwrap() - t0;
            assert_eq!(took, predicted, "{requests}/{secs}");
            assert!(took >= r.window * 3);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_counts_until_answered() {
        let limiter = Arc::new(ProjectLimiter::new(rate(2, 10)));
        let slow = limiter.acquire().await;
        let _fast = limiter.acquire().await;
        let t0 = Instant::now();
        let waiter = {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move {
                let _p = limiter.acquire().await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!waiter.is_finished());
        drop(slow);
        let sent = waiter.await.unwrap();
        // The fast one finished at t0: a window after it.
        assert!(sent - t0 >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn defer_holds_a_whole_window() {
        let limiter = Arc::new(ProjectLimiter::new(rate(5, 10)));
        let t0 = Instant::now();
        limiter.defer();
        assert!(limiter.eta(1) >= Duration::from_secs(10));
        drop(limiter.acquire().await);
        assert!(Instant::now() - t0 >= Duration::from_secs(10));
    }

    #[test]
    fn the_registry_shares_per_project_and_window() {
        let a = for_project("registry-test-a", rate(3, 2));
        let b = for_project("registry-test-a", rate(3, 2));
        let c = for_project("registry-test-b", rate(3, 2));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
