//! The replay misses of a run, kept (bounded) for `GET /__stripe-vcr/misses`:
//! a test runner that gave a test its own cassette set asks, after the test,
//! whether that set missed, and fails the test with the proxy's message even
//! when the app swallowed the SDK's exception.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::cassette::set::CassetteSet;

/// Misses kept; older ones are dropped first (and counted).
pub const MISSES_KEPT: usize = 1000;

/// One replay miss: the set it was asked of and the message its client got.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Miss {
    /// Counts every miss of the run from 1, dropped ones included, so a
    /// client can ask for what happened after a point it saw.
    pub seq: u64,
    /// The cassette set (`""` for the cassette directory itself).
    pub set: String,
    /// The error message the client received, naming the closest recording.
    pub message: String,
}

/// What `misses` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Misses {
    pub misses: Vec<Miss>,
    /// Misses of the run no longer kept (beyond [`MISSES_KEPT`]).
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Log {
    kept: VecDeque<Miss>,
    total: u64,
}

/// A bounded, shared list of misses.
#[derive(Debug, Default)]
pub struct MissLog {
    log: Mutex<Log>,
}

impl MissLog {
    /// Notes a miss of `set` answered with `message`.
    pub fn note(&self, set: &CassetteSet, message: String) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.total += 1;
        let seq = log.total;
        if log.kept.len() == MISSES_KEPT {
            log.kept.pop_front();
        }
        log.kept.push_back(Miss {
            seq,
            set: set.to_string(),
            message,
        });
    }

    /// The misses kept, of one set or all, in order.
    pub fn of(&self, set: Option<&CassetteSet>) -> Misses {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let wanted = set.map(ToString::to_string);
        Misses {
            misses: log
                .kept
                .iter()
                .filter(|m| wanted.as_ref().is_none_or(|w| *w == m.set))
                .cloned()
                .collect(),
            dropped: log.total - log.kept.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str) -> CassetteSet {
        CassetteSet::parse(name).unwrap()
    }

    #[test]
    fn misses_are_listed_per_set_in_order() {
        let log = MissLog::default();
        log.note(&set("a/one"), "first".into());
        log.note(&set("b"), "other".into());
        log.note(&set("a/one"), "second".into());
        let a = log.of(Some(&set("a/one")));
        let messages: Vec<(u64, &str)> = a.misses.iter().map(|m| (m.seq, m.message.as_str())).collect();
        assert_eq!(messages, [(1, "first"), (3, "second")]);
        assert_eq!(log.of(None).misses.len(), 3);
        assert!(log.of(Some(&set("a"))).misses.is_empty(), "a parent set is another set");
    }

    #[test]
    fn beyond_the_bound_the_oldest_are_dropped_and_counted() {
        let log = MissLog::default();
        for i in 0..MISSES_KEPT + 5 {
            log.note(&set("s"), format!("miss {i}"));
        }
        let all = log.of(None);
        assert_eq!(all.misses.len(), MISSES_KEPT);
        assert_eq!(all.dropped, 5);
        assert_eq!(all.misses[0].message, "miss 5");
        assert_eq!(all.misses.last().map(|m| m.seq), Some(MISSES_KEPT as u64 + 5));
    }
}
