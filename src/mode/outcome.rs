//! What happened to one request (hit, miss, recorded…): what the mode
//! reports, and the server counts and logs.

/// What happened to one request, for counting and logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served from a cassette.
    Hit,
    /// Replay had no cassette for it.
    Miss,
    /// Forwarded and saved as a cassette.
    Recorded,
    /// Forwarded and not saved (outside the Payment Intents API).
    Forwarded,
    /// Answered with an error by the proxy itself.
    Error,
    /// Forwarded, but saving the cassette failed.
    WriteFailed,
}

impl Outcome {
    /// Lower-case name for logs and headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Recorded => "recorded",
            Outcome::Forwarded => "forwarded",
            Outcome::Error => "error",
            Outcome::WriteFailed => "write-failed",
        }
    }
}
