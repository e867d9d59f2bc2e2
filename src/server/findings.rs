//! `--validate warn` findings as they ride along on the mode's answer: one
//! response header each, and a warning line. Worked out once per distinct
//! request; the memo keeps them with it.

use hyper::header::HeaderValue;

use crate::mode::{Handled, Severity};
use crate::stripe::validate::Violation;

/// Response header listing validation findings in `--validate warn` mode.
pub const VALIDATION_HEADER: &str = "stripe-vcr-validation";

/// A request's `--validate warn` findings, ready to ride along on the
/// mode's answer: one response header each, and a warning line. Worked out
/// once per distinct request (the memo keeps them with it).
#[derive(Debug)]
pub struct Findings {
    headers: Vec<HeaderValue>,
    line: String,
}

impl Findings {
    /// The findings of `violations`, noted with the warning `line`.
    pub fn new(violations: &[Violation], line: String) -> Findings {
        let headers = violations
            .iter()
            .filter_map(|v| {
                let text = format!("{}: {}", v.code.unwrap_or("invalid"), v.message);
                HeaderValue::from_str(&text.replace(|c: char| !c.is_ascii() || c.is_ascii_control(), "?")).ok()
            })
            .collect();
        Findings { headers, line }
    }

    /// Adds the headers and the warning line to `handled`.
    pub fn note(&self, handled: &mut Handled) {
        for value in &self.headers {
            handled.response.headers_mut().append(VALIDATION_HEADER, value.clone());
        }
        let previous = handled.detail.take().map(|(_, d)| format!("; {d}")).unwrap_or_default();
        handled.detail = Some((Severity::Warn, format!("{}{previous}", self.line)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::ProxyResponse;
    use crate::mode::Outcome;
    use crate::stripe::validate::ViolationKind;

    #[test]
    fn each_finding_is_a_header_and_the_line_comes_first() {
        let violation = |message: &str| Violation {
            kind: ViolationKind::Unknown,
            code: Some("parameter_unknown"),
            param: "x".into(),
            message: message.into(),
            detail: None,
        };
        let findings = Findings::new(
            &[violation("Received unknown parameter: x"), violation("é\u{1}")],
            "the line".into(),
        );
        for _ in 0..2 {
            let mut handled = Handled::ok(ProxyResponse::default(), Outcome::Hit, None);
            handled.detail = Some((Severity::Info, "earlier".into()));
            findings.note(&mut handled);
            let headers: Vec<_> = handled.response.headers().get_all(VALIDATION_HEADER).iter().collect();
            assert_eq!(
                headers,
                [
                    "parameter_unknown: Received unknown parameter: x",
                    "parameter_unknown: ??"
                ],
                "the same on every answer"
            );
            assert_eq!(handled.detail, Some((Severity::Warn, "the line; earlier".into())));
        }
    }
}
