//! When and how long the client waits before sending a call again.
//!
//! Calls whose [`Endpoint`](super::endpoints::Endpoint) is
//! [`Repeat::Safe`](super::endpoints::Repeat::Safe) are retried after a
//! transient failure: a 429, a 5xx, a timeout or a connection error. Others
//! only after a 429 or a connection that was never made, when Wix certainly
//! did not act.
//! Waits grow exponentially from [`RetryPolicy::base`] with random jitter
//! (each wait is between `d` and `2d` for the step's `d`), capped at
//! [`RetryPolicy::max_delay`]. A `Retry-After` answer is honoured: the wait is
//! at least what Wix asked, unless it asked for more than
//! [`RetryPolicy::max_retry_after`], in which case the call fails at once.
//!
//! Tests shorten the waits with `ACCESSCTL_RETRY_BASE_MS`.

use std::time::Duration;

use backon::ExponentialBuilder;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// Environment variable that sets [`RetryPolicy::base`] in milliseconds.
pub const RETRY_BASE_ENV: &str = "ACCESSCTL_RETRY_BASE_MS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included; 1 means no retries.
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub base: Duration,
    /// Longest wait between attempts computed by the backoff.
    pub max_delay: Duration,
    /// Longest `Retry-After` that is waited for; a longer one fails the call.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The default policy, with `ACCESSCTL_RETRY_BASE_MS` applied if set.
    pub fn from_env() -> Result<Self, String> {
        let mut policy = RetryPolicy::default();
        if let Ok(text) = std::env::var(RETRY_BASE_ENV) {
            let ms: u64 = text.trim().parse().map_err(|_| {
                format!("{RETRY_BASE_ENV} must be a whole number of milliseconds, not `{text}`")
            })?;
            policy.base = Duration::from_millis(ms);
        }
        Ok(policy)
    }

    /// The backoff schedule for backon: `attempts - 1` waits.
    pub(super) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::new()
            .with_min_delay(self.base)
            .with_max_delay(self.max_delay.max(self.base))
            .with_factor(2.0)
            .with_max_times(self.attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    /// The wait before the next attempt: the backoff's, or longer if Wix
    /// asked for it; `None` ends the retries.
    pub(super) fn wait(
        &self,
        backoff: Option<Duration>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let backoff = backoff?;
        match retry_after {
            Some(asked) if asked > self.max_retry_after => None,
            Some(asked) => Some(backoff.max(asked)),
            None => Some(backoff),
        }
    }
}

/// A `Retry-After` value: whole seconds, or an HTTP date (RFC 9110) taken
/// relative to `now`. Anything else is ignored.
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822 syntax.
    let at = OffsetDateTime::parse(value, &Rfc2822).ok()?;
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = datetime!(2025-01-01 12:00:00 UTC);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn retry_after_is_a_floor_and_too_long_a_wait_gives_up() {
        let p = RetryPolicy::default();
        let s = Duration::from_secs;
        assert_eq!(p.wait(Some(s(1)), None), Some(s(1)));
        assert_eq!(p.wait(Some(s(1)), Some(s(9))), Some(s(9)));
        assert_eq!(p.wait(Some(s(20)), Some(s(9))), Some(s(20)));
        assert_eq!(p.wait(Some(s(1)), Some(s(121))), None);
        assert_eq!(p.wait(None, Some(s(1))), None);
    }

    #[test]
    fn waits_grow_with_jitter_up_to_the_cap() {
        let p = RetryPolicy {
            attempts: 8,
            base: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            ..RetryPolicy::default()
        };
        let waits: Vec<Duration> = backon::BackoffBuilder::build(p.backoff()).collect();
        assert_eq!(waits.len(), 7);
        let steps = [100, 200, 400, 500, 500, 500, 500];
        for (w, d) in waits.iter().zip(steps) {
            let d = Duration::from_millis(d);
            assert!(*w >= d && *w < d * 2, "{w:?} not in [{d:?}, {:?})", d * 2);
        }
    }
}
