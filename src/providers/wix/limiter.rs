//! The client-side rate limiter: one bucket per API key, so a large run stays
//! under Wix's documented 200 requests per minute and is never throttled.
//!
//! Each key gets a GCRA (generic cell rate algorithm) bucket — a token bucket
//! kept as one instant per key, the "theoretical arrival time". With a limit
//! of `N` per minute a key may send a burst of `b = max(1, N / 5)` requests
//! at once, then one every `60 s / (N - b + 1)`, so **no 60-second window
//! ever holds more than `N` of its requests**: the same sliding-window rule
//! Wix (and the emulator) apply. Limiting per key also limits per site, since
//! every call for a site carries that site's key.
//!
//! Keys are told apart by a fingerprint (a hash with a per-process random
//! seed); the key text is never stored here. Time is tokio's, so tests with a
//! paused clock drive the limiter too. Retry-After answers push a key's
//! bucket forward ([`RateLimiter::defer`]), so every request on that key
//! waits, not just the one that was refused.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::secret::ApiKey;

/// Requests per minute per API key unless `--rate-limit` says otherwise:
/// well below the 200 Wix documents.
pub const DEFAULT_PER_MINUTE: u32 = 150;

const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    /// Requests that may go at once on an idle key.
    burst: u32,
    /// Time between requests once the burst is spent.
    interval: Duration,
    fingerprints: RandomState,
    /// Theoretical arrival time per key fingerprint.
    buckets: Mutex<HashMap<u64, Instant>>,
}

impl RateLimiter {
    /// At most `per_minute` requests per key in any 60-second window
    /// (`0` is treated as 1).
    pub fn per_minute(per_minute: u32) -> Self {
        let per_minute = per_minute.max(1);
        let burst = (per_minute / 5).max(1);
        let interval = MINUTE / (per_minute - burst + 1);
        RateLimiter {
            per_minute,
            burst,
            interval,
            fingerprints: RandomState::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> u32 {
        self.per_minute
    }

    fn fingerprint(&self, key: &ApiKey) -> u64 {
        self.fingerprints.hash_one(key.expose())
    }

    /// Burst tolerance: how far ahead of its slot a request may go.
    fn tolerance(&self) -> Duration {
        self.interval * (self.burst - 1)
    }

    /// Reserve the next slot for a key and say when it is.
    fn reserve(&self, fingerprint: u64, now: Instant) -> Instant {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tat = buckets.entry(fingerprint).or_insert(now);
        let start = (*tat).max(now);
        *tat = start + self.interval;
        start
            .checked_sub(self.tolerance())
            .map_or(now, |t| t.max(now))
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
    /// `Retry-After`), then pace them without a burst.
    pub fn defer(&self, key: &ApiKey, until: Instant) {
        let fingerprint = self.fingerprint(key);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let earliest = until + self.tolerance();
        let tat = buckets.entry(fingerprint).or_insert(earliest);
        *tat = (*tat).max(earliest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    async fn a_burst_goes_at_once_then_requests_are_paced() {
        let limiter = RateLimiter::per_minute(150);
        let key = ApiKey::new("k");
        let t0 = Instant::now();
        // A site's whole read (about 16 calls) fits in the burst of 30.
        let times = send_times(&limiter, &key, 31).await;
        assert!(times[..30].iter().all(|t| *t == t0));
        // tokio's timer rounds up to whole milliseconds.
        let pace = times[30] - t0;
        assert!(pace >= MINUTE / 121 && pace <= MINUTE / 121 + Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn keys_have_their_own_buckets() {
        let limiter = RateLimiter::per_minute(10);
        let (a, b) = (ApiKey::new("a"), ApiKey::new("b"));
        let t0 = Instant::now();
        limiter.acquire(&a).await;
        limiter.acquire(&b).await;
        assert_eq!(Instant::now(), t0);
        for _ in 0..2 {
            limiter.acquire(&a).await;
        }
        let waited = Instant::now() - t0;
        assert!(waited >= MINUTE / 9 && waited <= MINUTE / 9 + Duration::from_millis(1));
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
        assert!(Instant::now() - t0 >= Duration::from_secs(7) + MINUTE / 121);
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
