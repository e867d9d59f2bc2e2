//! `stripe-vcr audit`: which parameters apps actually send to each Payment
//! Intents endpoint, against what is documented — from cassettes and from
//! the `--audit-log` that record and replay write.

pub mod html;
pub mod report;
pub mod text;

use std::path::{Path, PathBuf};

use crate::audit_log::{AuditLog, AuditLogError};
use crate::cassette::store::{read_cassette, CassetteStore, LoadedCassette, StoreError};
use crate::stripe::validate::schema::Schema;
use report::{Observation, Report};

/// Findings that can fail a CI job (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A parameter the schema does not document was sent.
    Undocumented,
    /// A request fails validation.
    Invalid,
    /// Raw card data was sent (PCI scope).
    CardData,
    /// A request used a live-mode key.
    LiveKeys,
}

/// Why the inputs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Cassettes(#[from] StoreError),
    #[error(transparent)]
    Log(#[from] AuditLogError),
}

/// Reads the inputs and builds the report.
pub fn gather(cassettes: Option<&Path>, logs: &[PathBuf], schema: &Schema) -> Result<Report, AuditError> {
    let mut observations = Vec::new();
    let mut sources = Vec::new();
    let mut webhook_events = std::collections::BTreeMap::new();
    if let Some(dir) = cassettes {
        // Every set, through the one walk; each cassette is read, observed
        // and dropped, so a large library is never held whole.
        let walk = CassetteStore::new(dir).walk()?;
        for (_, path) in &walk.cassettes {
            let (file_name, cassette) = read_cassette(path)?;
            observations.push(Observation::from_cassette(&LoadedCassette { file_name, cassette }));
        }
        for (set, events) in walk.read_events()? {
            for event in events {
                *webhook_events.entry(set.qualify(&event.event_type)).or_insert(0) += 1;
            }
        }
        sources.push(match walk.sets_summary() {
            None => format!("{} ({} cassettes)", dir.display(), walk.cassettes.len()),
            Some(sets) => format!("{} ({} cassettes: {sets})", dir.display(), walk.cassettes.len()),
        });
    }
    for path in logs {
        let entries = AuditLog::read(path)?;
        let api: Vec<Observation> = entries.iter().filter_map(Observation::from_log).collect();
        sources.push(format!(
            "{} ({} requests, {} to the API)",
            path.display(),
            entries.len(),
            api.len()
        ));
        observations.extend(api);
    }
    let mut report = report::build(schema, sources, &observations);
    report.webhook_events = webhook_events;
    Ok(report)
}

/// The `--fail-on` conditions the report trips, each as a sentence.
pub fn tripped(report: &Report, fail_on: &[FailOn]) -> Vec<String> {
    let t = &report.totals;
    fail_on
        .iter()
        .filter_map(|f| match f {
            FailOn::Undocumented if t.undocumented_params > 0 => {
                Some(format!("{} undocumented parameters sent", t.undocumented_params))
            }
            FailOn::Invalid if t.invalid_requests > 0 => {
                Some(format!("{} requests fail validation", t.invalid_requests))
            }
            FailOn::CardData if t.card_data_requests > 0 => {
                Some(format!("{} requests carry raw card data", t.card_data_requests))
            }
            FailOn::LiveKeys if t.live_key_requests > 0 => {
                Some(format!("{} requests used a live-mode key", t.live_key_requests))
            }
            _ => None,
        })
        .collect()
}
