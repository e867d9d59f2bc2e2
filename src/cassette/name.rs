//! The name of the cassette a request was answered from or recorded to, as
//! the response header, the access line and the audit log give it.

use std::sync::{Arc, OnceLock};

/// A cassette's name relative to the cassette directory
/// (`checkout/create-….json`). Cheap to clone: replay makes each
/// recording's name once and hands out the same one on every hit, and the
/// access line's redacted form of it is worked out once too
/// ([`CassetteName::logged`]).
#[derive(Debug, Clone)]
pub struct CassetteName(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    name: Box<str>,
    logged: OnceLock<Box<str>>,
}

impl CassetteName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0.name
    }

    /// The name as the access line shows it: `prepare` (redaction, escapes)
    /// applied the first time it is asked for, then remembered. The one
    /// caller passes the same `prepare` every time (the proxy's one
    /// redactor), which is what makes remembering it right.
    pub fn logged(&self, prepare: impl FnOnce(&str) -> String) -> &str {
        self.0.logged.get_or_init(|| prepare(&self.0.name).into())
    }
}

impl From<String> for CassetteName {
    fn from(name: String) -> CassetteName {
        CassetteName(Arc::new(Inner {
            name: name.into(),
            logged: OnceLock::new(),
        }))
    }
}

impl std::ops::Deref for CassetteName {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_form_is_made_once_and_shared_by_clones() {
        let name = CassetteName::from("set/create-1.json".to_owned());
        let copy = name.clone();
        assert_eq!(name.logged(|n| n.to_uppercase()), "SET/CREATE-1.JSON");
        assert_eq!(copy.logged(|_| unreachable!("made once")), "SET/CREATE-1.JSON");
        assert_eq!(&*copy, "set/create-1.json");
    }
}
