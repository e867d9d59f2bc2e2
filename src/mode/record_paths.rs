//! `--record-paths`: which API paths record mode saves as cassettes. Every
//! `/v1` and `/v2` path by default; globs narrow it (`/v1/payment_intents*`),
//! and what they leave out is forwarded but not saved.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// The paths to save; all of them when built from no globs.
#[derive(Debug, Clone, Default)]
pub struct RecordPaths {
    globs: Option<GlobSet>,
}

/// A `--record-paths` glob that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("--record-paths `{glob}` is not a valid glob: {source}")]
pub struct RecordPathsError {
    glob: String,
    #[source]
    source: globset::Error,
}

impl RecordPaths {
    /// Paths matching any of `globs` (`*` matches `/` too, so
    /// `/v1/payment_intents*` takes `/v1/payment_intents/pi_1/confirm`);
    /// every path when `globs` is empty.
    pub fn new(globs: &[String]) -> Result<RecordPaths, RecordPathsError> {
        if globs.is_empty() {
            return Ok(RecordPaths::default());
        }
        let mut builder = GlobSetBuilder::new();
        for glob in globs {
            builder.add(Glob::new(glob).map_err(|source| RecordPathsError {
                glob: glob.clone(),
                source,
            })?);
        }
        let set = builder.build().map_err(|source| RecordPathsError {
            glob: globs.join(" "),
            source,
        })?;
        Ok(RecordPaths { globs: Some(set) })
    }

    /// Whether a request to `path` (no query string) is saved.
    pub fn records(&self, path: &str) -> bool {
        self.globs.as_ref().is_none_or(|g| g.is_match(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_narrow_what_is_saved() {
        assert!(RecordPaths::default().records("/v1/customers"));
        let pi = RecordPaths::new(&["/v1/payment_intents*".into()]).expect("glob");
        assert!(pi.records("/v1/payment_intents"));
        assert!(pi.records("/v1/payment_intents/pi_1/confirm"));
        assert!(!pi.records("/v1/customers"));
        let two = RecordPaths::new(&["/v1/customers/**".into(), "/v1/refunds".into()]).expect("globs");
        assert!(two.records("/v1/customers/cus_1/payment_methods"));
        assert!(two.records("/v1/refunds") && !two.records("/v1/refunds/re_1"));
        let err = RecordPaths::new(&["/v1/[".into()]).expect_err("bad glob");
        assert!(err.to_string().contains("--record-paths `/v1/[`"), "{err}");
    }
}
