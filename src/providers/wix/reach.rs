//! Whether the Wix API can be reached at all, shared by every call of a run.
//!
//! A call that cannot connect (refused, DNS failure, connect timeout) is
//! retried as [`RetryPolicy`] says. But a run of many sites would then spend
//! a whole backoff per site, and calls queued behind the rate limiter would
//! wait their turn only to fail. So the client keeps one verdict: once
//! connecting has failed for as long as one call's backoff takes, with no
//! connection made in between (or one call has run out of attempts), the
//! API is unreachable for the rest of the run and every call still waiting
//! fails at once with the same cause. A single success clears the streak.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::retry::RetryPolicy;

#[derive(Debug, Default)]
pub struct Reachability {
    cause: OnceLock<String>,
    tripped: Notify,
    /// The current run of failed connects, if any.
    streak: Mutex<Option<Streak>>,
}

#[derive(Debug)]
struct Streak {
    since: Instant,
    count: u32,
    cause: String,
}

impl Reachability {
    /// The cause, once the API is known unreachable.
    pub fn cause(&self) -> Option<&String> {
        self.cause.get()
    }

    /// Declare the API unreachable; waiters are woken.
    pub fn trip(&self, cause: &str) {
        if self.cause.set(cause.to_string()).is_ok() {
            self.tripped.notify_waiters();
        }
    }

    /// A connection was made: whatever failed before was passing.
    pub fn connected(&self) {
        *self.streak.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// A connect failed with `cause`.
    pub fn refused(&self, cause: &str, policy: &RetryPolicy) {
        {
            let mut streak = self.streak.lock().unwrap_or_else(|e| e.into_inner());
            let s = streak.get_or_insert_with(|| Streak {
                since: Instant::now(),
                count: 0,
                cause: String::new(),
            });
            s.count += 1;
            s.cause = cause.to_string();
        }
        self.check(policy);
    }

    /// Trip when connecting has failed, with no success, at least as often
    /// as one call tries and for as long as one call backs off.
    fn check(&self, policy: &RetryPolicy) {
        let cause = {
            let streak = self.streak.lock().unwrap_or_else(|e| e.into_inner());
            streak
                .as_ref()
                .filter(|s| s.count >= policy.attempts && s.since.elapsed() >= one_backoff(policy))
                .map(|s| s.cause.clone())
        };
        if let Some(cause) = cause {
            self.trip(&cause);
        }
    }

    /// Resolves with the cause when the API is declared unreachable. Calls
    /// waiting for a rate-limit slot wait on this too: while they wait no
    /// connect is tried, so the verdict is also reached by the clock.
    pub async fn tripped(&self, policy: &RetryPolicy) -> String {
        loop {
            let notified = self.tripped.notified();
            if let Some(cause) = self.cause() {
                return cause.clone();
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(Duration::from_millis(250)) => self.check(policy),
            }
        }
    }
}

/// The shortest time one call spends backing off before it gives up.
fn one_backoff(policy: &RetryPolicy) -> Duration {
    (0..policy.attempts.saturating_sub(1))
        .map(|i| {
            policy
                .base
                .saturating_mul(1u32 << i.min(16))
                .min(policy.max_delay)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_backoff_is_seven_and_a_half_seconds() {
        assert_eq!(
            one_backoff(&RetryPolicy::default()),
            Duration::from_millis(7500)
        );
    }
}
