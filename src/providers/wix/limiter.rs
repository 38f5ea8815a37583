//! The client-side rate limiter: one window per API key, so a large run
//! stays under Wix's documented 200 requests per minute and is never
//! throttled.
//!
//! Each key keeps the send times of its last `N` requests (`N` =
//! `--rate-limit`, default 150), and a request goes when sending it leaves
//! **no 60-second window holding more than `N` of the key's requests**: the
//! same sliding-window rule Wix (and the emulator) apply. So an idle key may
//! send all `N` at once, and after that each request waits for the one `N`
//! back to leave the window (a minute plus a 2-second margin for network
//! delay, since Wix counts arrivals). Limiting per key also limits per site, since
//! every call for a site carries that site's key.
//!
//! Keys are told apart by a fingerprint (a hash with a per-process random
//! seed); the key text is never stored here. Time is tokio's, so tests with a
//! paused clock drive the limiter too. Retry-After answers hold a key's
//! whole window back ([`RateLimiter::defer`]), so every request on that key
//! waits, not just the one that was refused.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::secret::ApiKey;

/// Requests per minute per API key unless `--rate-limit` says otherwise:
/// well below the 200 Wix documents.
pub const DEFAULT_PER_MINUTE: u32 = 150;

/// The window the limiter keeps: a minute, plus a margin for network delay.
/// The server counts arrivals, not sends; a request that travels faster
/// than the one `N` before it must still not land inside that one's minute.
const WINDOW: Duration = Duration::from_secs(62);

#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    fingerprints: RandomState,
    /// Per key fingerprint: the send times of its last `per_minute`
    /// requests (reserved, including those still waiting), oldest first.
    windows: Mutex<HashMap<u64, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `per_minute` requests per key in any 60-second window
    /// (`0` is treated as 1).
    pub fn per_minute(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1),
            fingerprints: RandomState::new(),
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> u32 {
        self.per_minute
    }

    fn fingerprint(&self, key: &ApiKey) -> u64 {
        self.fingerprints.hash_one(key.expose())
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<u64, VecDeque<Instant>>> {
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserve the next slot for a key and say when it is: now, or when the
    /// request `per_minute` back leaves the window. Slots only move
    /// forward, so the times kept stay in order.
    fn reserve(&self, fingerprint: u64, now: Instant) -> Instant {
        let limit = self.per_minute as usize;
        let mut windows = self.windows();
        let sent = windows.entry(fingerprint).or_default();
        let mut at = now.max(sent.back().copied().unwrap_or(now));
        if sent.len() >= limit
            && let Some(oldest) = sent.get(sent.len() - limit)
        {
            at = at.max(*oldest + WINDOW);
        }
        sent.push_back(at);
        // What left the window for good (every later slot is at least
        // `at`) no longer counts.
        while sent.len() > limit || sent.front().is_some_and(|t| *t + WINDOW <= at) {
            sent.pop_front();
        }
        at
    }

    /// Wait until a request with `key` may be sent; returns how long that was.
    pub async fn acquire(&self, key: &ApiKey) -> Duration {
        let now = Instant::now();
        let at = self.reserve(self.fingerprint(key), now);
        if at > now {
            tokio::time::sleep_until(at).await;
        }
        at.saturating_duration_since(now)
    }

    /// Hold every request with `key` back until `until` (Wix said
    /// `Retry-After`), then pace them as the server's full window frees
    /// one slot at a time: one every `62 s / per_minute`, no burst.
    pub fn defer(&self, key: &ApiKey, until: Instant) {
        let limit = self.per_minute as usize;
        let step = WINDOW / self.per_minute;
        let mut windows = self.windows();
        let sent = windows.entry(self.fingerprint(key)).or_default();
        // A full window that ends just before `until`, merged with what the
        // key really sent (the later of the two at each place, so both
        // rules hold).
        let start = until.checked_sub(WINDOW).unwrap_or(until);
        let mut merged: VecDeque<Instant> = VecDeque::with_capacity(limit);
        let real = limit.saturating_sub(sent.len());
        for i in 0..limit {
            let held = start + step * i as u32;
            let actual = i.checked_sub(real).and_then(|j| sent.get(j)).copied();
            merged.push_back(actual.map_or(held, |a| a.max(held)));
        }
        *sent = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    /// Send times of `n` back-to-back requests on one key.
    async fn send_times(limiter: &RateLimiter, key: &ApiKey, n: usize) -> Vec<Instant> {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            limiter.acquire(key).await;
            times.push(Instant::now());
        }
        times
    }

    /// The most requests any half-open 60-second window holds, which is what
    /// a sliding-window server (Wix, the emulator) counts.
    fn busiest_minute(times: &[Instant]) -> usize {
        let mut most = 0;
        for (i, start) in times.iter().enumerate() {
            let n = times[i..]
                .iter()
                .take_while(|t| t.duration_since(*start) < MINUTE)
                .count();
            most = most.max(n);
        }
        most
    }

    #[tokio::test(start_paused = true)]
    async fn no_minute_holds_more_than_the_limit() {
        for limit in [1, 2, 9, 10, 11, 150, 200, 1000] {
            let limiter = RateLimiter::per_minute(limit);
            let key = ApiKey::new("k");
            let times = send_times(&limiter, &key, limit as usize * 3 + 5).await;
            assert_eq!(busiest_minute(&times), limit as usize, "limit {limit}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_key_sends_its_whole_minute_at_once() {
        let limiter = RateLimiter::per_minute(150);
        let key = ApiKey::new("k");
        let t0 = Instant::now();
        // An account with nine sites (about 150 calls) reads at once.
        let times = send_times(&limiter, &key, 151).await;
        assert!(times[..150].iter().all(|t| *t == t0));
        // The 151st waits for the first to leave the window.
        assert_eq!(times[150] - t0, WINDOW);
    }

    #[tokio::test(start_paused = true)]
    async fn keys_have_their_own_windows() {
        let limiter = RateLimiter::per_minute(2);
        let (a, b) = (ApiKey::new("a"), ApiKey::new("b"));
        let t0 = Instant::now();
        limiter.acquire(&a).await;
        limiter.acquire(&a).await;
        limiter.acquire(&b).await;
        assert_eq!(Instant::now(), t0);
        limiter.acquire(&a).await;
        assert_eq!(Instant::now() - t0, WINDOW);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_holds_the_whole_key_back() {
        let limiter = RateLimiter::per_minute(150);
        let key = ApiKey::new("k");
        let t0 = Instant::now();
        limiter.defer(&key, t0 + Duration::from_secs(7));
        limiter.acquire(&key).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(7));
        // Then requests are paced: the server's window frees one slot at a
        // time.
        limiter.acquire(&key).await;
        // tokio's timer rounds up to whole milliseconds.
        let pace = Instant::now() - t0 - Duration::from_secs(7);
        assert!(pace >= WINDOW / 150 && pace <= WINDOW / 150 + Duration::from_millis(1));
        let times = send_times(&limiter, &key, 300).await;
        assert!(busiest_minute(&times) <= 150);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_the_pace() {
        let limiter = std::sync::Arc::new(RateLimiter::per_minute(20));
        let key = ApiKey::new("k");
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..45 {
            let (limiter, key) = (limiter.clone(), key.clone());
            tasks.spawn(async move {
                limiter.acquire(&key).await;
                Instant::now()
            });
        }
        let mut times = tasks.join_all().await;
        times.sort();
        assert_eq!(busiest_minute(&times), 20);
    }
}
