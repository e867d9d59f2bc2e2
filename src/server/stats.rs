//! Run counters for the shutdown summary and the admin `stats` path.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::mode::{Outcome, WebhookTotals};

/// Counters shared by every connection. Relaxed atomics: they are reported,
/// never used to synchronise anything.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    recorded: AtomicU64,
    forwarded: AtomicU64,
    errors: AtomicU64,
    write_failures: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub requests: u64,
    pub hits: u64,
    pub misses: u64,
    pub recorded: u64,
    pub forwarded: u64,
    pub errors: u64,
    pub write_failures: u64,
    /// Recorded cassettes that could not be synced to disk. Known only at
    /// shutdown; while running, `/__stripe-vcr/stats` reports the sync queue.
    #[serde(skip)]
    pub unsynced: u64,
    /// Record: occurrences an earlier, longer session of a request left
    /// beyond what this run recorded, deleted at the end (names relative to
    /// the cassette directory). Known only at shutdown.
    #[serde(skip)]
    pub stale_removed: Vec<String>,
    /// Webhook events recorded, delivered and failed. Known at shutdown.
    #[serde(skip)]
    pub webhooks: WebhookTotals,
}

impl Stats {
    /// Counts one finished request.
    pub fn count(&self, outcome: Outcome) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Hit => &self.hits,
            Outcome::Miss => &self.misses,
            Outcome::Recorded => &self.recorded,
            Outcome::Forwarded => &self.forwarded,
            Outcome::Error => &self.errors,
            Outcome::WriteFailed => &self.write_failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn summary(&self) -> Summary {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Summary {
            requests: get(&self.requests),
            hits: get(&self.hits),
            misses: get(&self.misses),
            recorded: get(&self.recorded),
            forwarded: get(&self.forwarded),
            errors: get(&self.errors),
            write_failures: get(&self.write_failures),
            unsynced: 0,
            stale_removed: Vec::new(),
            webhooks: WebhookTotals::default(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests: {} hits, {} misses, {} recorded, {} forwarded unrecorded, {} errors",
            self.requests, self.hits, self.misses, self.recorded, self.forwarded, self.errors
        )?;
        if self.write_failures > 0 {
            write!(f, ", {} cassettes NOT saved (see the log)", self.write_failures)?;
        }
        if self.unsynced > 0 {
            write!(f, ", {} cassettes NOT synced to disk (see the log)", self.unsynced)?;
        }
        if !self.stale_removed.is_empty() {
            write!(
                f,
                ", {} stale occurrences of an earlier recording removed",
                self.stale_removed.len()
            )?;
        }
        let w = self.webhooks;
        if w.recorded > 0 {
            write!(f, ", {} webhook events recorded", w.recorded)?;
        }
        if w.delivered > 0 || w.failed > 0 {
            write!(f, ", {} webhook events delivered", w.delivered)?;
            if w.failed > 0 {
                write!(f, ", {} webhook deliveries FAILED (see the log)", w.failed)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_outcome() {
        let s = Stats::default();
        for o in [
            Outcome::Hit,
            Outcome::Hit,
            Outcome::Miss,
            Outcome::Recorded,
            Outcome::Error,
            Outcome::WriteFailed,
        ] {
            s.count(o);
        }
        let sum = s.summary();
        assert_eq!(
            (
                sum.requests,
                sum.hits,
                sum.misses,
                sum.recorded,
                sum.errors,
                sum.write_failures
            ),
            (6, 2, 1, 1, 1, 1)
        );
        assert_eq!(
            sum.to_string(),
            "6 requests: 2 hits, 1 misses, 1 recorded, 0 forwarded unrecorded, 1 errors, 1 cassettes NOT saved (see the log)"
        );
        let unsynced = Summary {
            unsynced: 2,
            stale_removed: vec!["a-001.json".into()],
            ..sum
        };
        assert!(
            unsynced.to_string().ends_with(
                ", 2 cassettes NOT synced to disk (see the log), 1 stale occurrences of an earlier recording removed"
            ),
            "{unsynced}"
        );
    }
}
