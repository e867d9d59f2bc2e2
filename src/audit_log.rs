//! The audit log: `record` and `replay --audit-log FILE` append one JSON line
//! per request (time, mode, endpoint, redacted parameters, validation
//! findings, outcome), so what CI replays — misses included — can be audited
//! like recorded cassettes.
//!
//! Entries are built from redacted parts; as a last guard, each line goes
//! through the built-in redactor as JSON once more before it is written
//! (keys, values, card data in any shape), so nothing the redactor knows
//! can reach the file even if a caller forgot.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::cassette::format::BodyEncoding;
use crate::stripe::params::Params;
use crate::stripe::redact::Redactor;
use crate::stripe::validate::Violation;

/// One validation finding, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub param: String,
    pub message: String,
}

impl From<&Violation> for Finding {
    fn from(v: &Violation) -> Finding {
        Finding {
            code: v.code.map(str::to_owned),
            param: v.param.clone(),
            message: v.message.clone(),
        }
    }
}

/// One line of the audit log. Everything in it has been redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    pub mode: String,
    /// The Payment Intents endpoint, or `null` for other paths.
    pub endpoint: Option<String>,
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub params: Params,
    /// How the parameters travelled (`none`, `form`, `json`, …): a JSON
    /// body's values are checked for their JSON types. Absent from lines
    /// written before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_encoding: Option<BodyEncoding>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// `hit`, `miss`, `recorded`, `forwarded`, `error`, `write-failed`.
    pub outcome: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cassette: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The request was authenticated with a live-mode key (the key itself is
    /// never logged).
    #[serde(default)]
    pub live_key: bool,
}

impl Entry {
    /// The current time in the log's format.
    pub fn now() -> String {
        humantime::format_rfc3339_millis(SystemTime::now()).to_string()
    }
}

/// Why the audit log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    #[error("--audit-log {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: not an audit log line: {source}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

/// An open audit log, appended to by every connection.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (creating if needed) `path` for appending.
    pub fn open(path: &Path) -> Result<AuditLog, AuditLogError> {
        let io = |source| AuditLogError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Appends one entry as one line (a single `write`, so concurrent
    /// writers never interleave within a line), redacted once more.
    pub fn append(&self, entry: &Entry) {
        let redacted = serde_json::to_value(entry).map(|v| Redactor::standard().redact_json(&v));
        let mut line = match redacted.and_then(|v| serde_json::to_vec(&v)) {
            Ok(line) => line,
            Err(e) => return tracing::error!(error = %e, "could not serialise an audit entry"),
        };
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.write_all(&line) {
            tracing::error!(path = %self.path.display(), error = %e, "could not append to the audit log");
        }
    }

    /// Reads every entry of a log file.
    pub fn read(path: &Path) -> Result<Vec<Entry>, AuditLogError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuditLogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|source| AuditLogError::Parse {
                    path: path.to_path_buf(),
                    line: i + 1,
                    source,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("logs/audit.jsonl");
        let log = AuditLog::open(&path).expect("open");
        let entry = Entry {
            time: Entry::now(),
            mode: "replay".into(),
            endpoint: Some("create".into()),
            method: "POST".into(),
            path: "/v1/payment_intents".into(),
            params: Params::from_form(b"amount=1&metadata[k]=v", "body").expect("form"),
            body_encoding: Some(BodyEncoding::Form),
            findings: vec![Finding {
                code: Some("parameter_missing".into()),
                param: "currency".into(),
                message: "Missing required param: currency.".into(),
            }],
            outcome: "miss".into(),
            status: 404,
            cassette: None,
            stripe_version: Some("2026-07-29.dahlia".into()),
            user_agent: None,
            live_key: false,
        };
        log.append(&entry);
        log.append(&entry);
        let read = AuditLog::read(&path).expect("read");
        assert_eq!(read, vec![entry.clone(), entry.clone()]);
        // The last guard: what a caller forgot to redact is redacted here.
        let mut careless = entry.clone();
        careless.path = "/v1/payment_intents/sk%5Ftest%5F51CarelessSecret".into();
        careless.params = Params::from_form(b"card[number][]=4242424242424242&card[cvc]=123", "body").expect("form");
        careless.cassette = Some("x_pi_1_secret_CarelessSecret/a.json".into());
        std::fs::write(&path, "").expect("truncate");
        log.append(&careless);
        let text = std::fs::read_to_string(&path).expect("read");
        for leaked in ["CarelessSecret", "4242424242424242", "cvc"] {
            assert!(!text.contains(leaked), "{leaked}: {text}");
        }
        assert!(
            text.contains("sk%5Ftest%5FREDACTED") && text.contains("************4242"),
            "{text}"
        );
        std::fs::write(&path, "{not json}\n").expect("write");
        assert!(AuditLog::read(&path).expect_err("bad").to_string().contains(":1:"));
    }
}
