//! `stripe-vcr prune`: deletes cassettes that no replay run used, judged
//! from the runs' audit logs (`replay --audit-log FILE`), and the webhook
//! events that follow them. A dry run unless `--delete` is given.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::audit_log::{AuditLog, AuditLogError};
use crate::cassette::store::{CassetteStore, StoreError};

/// Why pruning could not go ahead.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Log(#[from] AuditLogError),
    #[error("the run logs name no replayed cassette at all; refusing to call every cassette unused (is it the audit log of a replay run of this directory?)")]
    NothingUsed,
    #[error("could not delete {}: {source}", path.display())]
    Delete {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Cassettes in `dir` (names relative to it) that no run in `logs` served.
pub fn unused(dir: &Path, logs: &[PathBuf]) -> Result<Vec<String>, PruneError> {
    let mut used = BTreeSet::new();
    for log in logs {
        for entry in AuditLog::read(log)? {
            if entry.outcome == "hit" {
                used.extend(entry.cassette);
            }
        }
    }
    if used.is_empty() {
        return Err(PruneError::NothingUsed);
    }
    let mut all = Vec::new();
    for (set, loaded) in CassetteStore::new(dir).load_sets()? {
        all.extend(loaded.iter().map(|l| set.qualify(&l.file_name)));
    }
    let mut unused: Vec<String> = all.into_iter().filter(|name| !used.contains(name)).collect();
    // A webhook event goes with the interaction it follows: unused when that
    // is (replay delivers it only after serving it).
    for (set, events) in CassetteStore::new(dir).walk()?.read_events()? {
        unused.extend(
            events
                .iter()
                .filter(|e| {
                    e.after
                        .as_ref()
                        .is_some_and(|after| !used.contains(&set.qualify(after)))
                })
                .map(|e| set.qualify(&e.file_name())),
        );
    }
    Ok(unused)
}

/// Deletes the named cassettes from `dir`.
pub fn delete(dir: &Path, names: &[String]) -> Result<(), PruneError> {
    for name in names {
        let path = dir.join(name);
        std::fs::remove_file(&path).map_err(|source| PruneError::Delete { path, source })?;
    }
    Ok(())
}
