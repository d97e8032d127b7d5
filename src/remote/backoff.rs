//! How soon an endpoint that could not be reached is tried again.
//!
//! A long-running command (a monitor, a run over 500 sites) must not give up on a host for
//! good because it was down for a minute, nor hammer it — each attempt on a dead host costs
//! the sites asking a connect timeout. After the n-th failure in a row the next attempt
//! waits `first × 2^(n-1)`, capped at `max`: 1 s, 2 s, 4 s, … 60 s by default, so an
//! endpoint is tried at most about a dozen times in its first ten minutes of being down
//! and once a minute after that.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
}

impl Default for Backoff {
    /// 1 s, doubling, at most 60 s.
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before the next attempt after `failures` failed attempts in a row (at least 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=9).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.delay(0), Duration::from_secs(1));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(60));
    }
}
