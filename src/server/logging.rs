//! Where log lines go: stderr, through one buffer that is written out every
//! [`FLUSH_EVERY`], at once for warnings and errors, and when the process
//! ends.
//!
//! Replay logs one access line per request. Written straight to stderr that
//! is one `write` system call per request, which cost about a fifth of replay
//! throughput in `bench/` (stderr is unbuffered in Rust). Buffering them as
//! nginx's `access_log ... buffer= flush=` does removes the system call from
//! the request path; a line reaches the terminal at most [`FLUSH_EVERY`]
//! later. Anything at `WARN` or above (misses, upstream faults, lost
//! cassettes) is never held back. `tracing-appender`'s non-blocking writer was
//! measured too: its hand-off to a writer thread cost as much as the write it
//! saved when the proxy is pinned to one core.
//!
//! The access line itself ([`access`]) is written here, straight into the
//! buffer, in the same layout as `tracing`'s lines: `tracing-subscriber`
//! formats messages one character at a time through its escaping writer,
//! which made one access line cost more than decoding and hashing the
//! request. `RUST_LOG` still decides whether it is written.
//!
//! Every other log line (a `tracing` event) passes through the built-in
//! redactor on its way into the buffer ([`EventWriter`]): messages are
//! redacted where they are made, and this is the last guard for a value
//! logged without it (a parameter name in a debug line, a header in a
//! warning). Access lines are redacted where they are made, off this guard,
//! to keep it off the replay hot path.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufWriter, Stderr, Write};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

use crate::stripe::redact::Redactor;

/// How long an info line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Room for a few hundred access lines between flushes; a fuller buffer is
/// written out as soon as it fills.
const BUFFER_BYTES: usize = 64 * 1024;

/// The target access lines are logged under: `RUST_LOG=stripe_vcr::access=off`
/// silences them alone.
pub const ACCESS_TARGET: &str = "stripe_vcr::access";

/// The binary's sink, once [`init`] has run.
static SINK: OnceLock<BufferedStderr> = OnceLock::new();

/// One access line's fields, each printable (see [`printable`]).
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    pub via: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub outcome: &'a str,
    pub status: u16,
    pub cassette: &'a str,
    /// How long the request took.
    pub micros: u64,
}

impl Access<'_> {
    /// The line's text, written piece by piece: the same bytes as its
    /// `Display`, without `fmt`'s machinery (which cost more than the rest
    /// of a replayed request's own work).
    fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut digits = [0u8; 20];
        out.write_all(b"request via=")?;
        out.write_all(self.via.as_bytes())?;
        out.write_all(b" method=")?;
        out.write_all(self.method.as_bytes())?;
        out.write_all(b" path=")?;
        out.write_all(self.path.as_bytes())?;
        out.write_all(b" outcome=")?;
        out.write_all(self.outcome.as_bytes())?;
        out.write_all(b" status=")?;
        out.write_all(decimal(u64::from(self.status), &mut digits))?;
        out.write_all(b" cassette=")?;
        out.write_all(self.cassette.as_bytes())?;
        out.write_all(b" latency_ms=")?;
        out.write_all(decimal(self.micros / 1000, &mut digits))?;
        let hundredths = self.micros % 1000 / 10;
        out.write_all(&[b'.', b'0' + (hundredths / 10) as u8, b'0' + (hundredths % 10) as u8])
    }
}

impl fmt::Display for Access<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request via={} method={} path={} outcome={} status={} cassette={} latency_ms={}.{:02}",
            self.via,
            self.method,
            self.path,
            self.outcome,
            self.status,
            self.cassette,
            self.micros / 1000,
            self.micros % 1000 / 10
        )
    }
}

/// `n` in decimal, in the end of `buffer`.
fn decimal(mut n: u64, buffer: &mut [u8; 20]) -> &[u8] {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buffer[at..];
        }
    }
}

/// `time` as `humantime::format_rfc3339_micros` writes it
/// (`2026-11-22T10:00:00.123456Z`), its date and time to the second made
/// once per second on each thread.
fn write_timestamp(out: &mut impl Write, time: SystemTime) -> io::Result<()> {
    thread_local! {
        static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
    }
    let since = time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let (second, micros) = (since.as_secs(), since.subsec_micros());
    let (cached, mut text) = SECOND.get();
    if cached != second {
        // `YYYY-MM-DDTHH:MM:SSZ`: the first 19 bytes.
        let whole = humantime::format_rfc3339_seconds(time).to_string();
        text.copy_from_slice(&whole.as_bytes()[..19]);
        SECOND.set((second, text));
    }
    let mut digits = [0u8; 20];
    let micros = decimal(1_000_000 + u64::from(micros), &mut digits);
    out.write_all(&text)?;
    out.write_all(b".")?;
    // 1_000_000 + micros has seven digits: the last six, zero-padded.
    out.write_all(&micros[1..])?;
    out.write_all(b"Z")
}

/// Logs one access line (`request via=… method=… …`) at INFO under
/// [`ACCESS_TARGET`]; the caller has checked [`access_enabled`] (and made
/// the line only then). Without [`init`] (the library inside tests) it goes
/// through `tracing`.
pub fn access(line: &Access<'_>) {
    match SINK.get() {
        Some(sink) => {
            let now = SystemTime::now();
            let mut buffer = lock(&sink.buffer);
            let _ = write_timestamp(&mut *buffer, now)
                .and_then(|()| buffer.write_all(b"  INFO "))
                .and_then(|()| buffer.write_all(ACCESS_TARGET.as_bytes()))
                .and_then(|()| buffer.write_all(b": "))
                .and_then(|()| line.write_to(&mut *buffer))
                .and_then(|()| buffer.write_all(b"\n"));
        }
        None => tracing::info!(target: ACCESS_TARGET, "{line}"),
    }
}

/// Whether `RUST_LOG` lets access lines through: callers check first so a
/// silenced line costs nothing to prepare.
pub fn access_enabled() -> bool {
    tracing::enabled!(target: ACCESS_TARGET, Level::INFO)
}

/// `text` with control characters (which could drive a terminal) shown as
/// escapes; borrowed when there are none, as in every valid request path.
pub fn printable(text: &str) -> Cow<'_, str> {
    let plain_ascii = text.bytes().all(|b| (0x20..0x7f).contains(&b));
    if plain_ascii || !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Sets up `tracing` for the binary: `RUST_LOG` (default `stripe_vcr=info`),
/// colour on a terminal, the buffered stderr sink. Keep the returned guard
/// alive for the life of the process; dropping it writes out what is left.
pub fn init() -> LogGuard {
    let sink = BufferedStderr::new(io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("stripe_vcr=info")),
        )
        .with_writer(sink.clone())
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .init();
    let _ = SINK.set(sink.clone());
    let ticker = Arc::downgrade(&sink.buffer);
    // The flusher lives as long as the sink; it holds only a weak reference.
    let _ = std::thread::Builder::new()
        .name("stripe-vcr-log-flush".into())
        .spawn(move || {
            while let Some(buffer) = ticker.upgrade() {
                let _ = lock(&buffer).flush();
                drop(buffer);
                std::thread::sleep(FLUSH_EVERY);
            }
        });
    LogGuard { sink }
}

/// Writes out buffered log lines when dropped (and on [`LogGuard::flush`]).
#[must_use = "dropping the guard early is harmless but flushes only once"]
pub struct LogGuard {
    sink: BufferedStderr,
}

impl LogGuard {
    /// Writes out every buffered line now, e.g. before printing a final
    /// message straight to stderr so the order on screen stays right.
    pub fn flush(&self) {
        self.sink.flush();
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A writer behind a shared buffer; a [`MakeWriter`] for
/// `tracing-subscriber`. Generic so tests can look at what reached the writer.
pub struct Buffered<W: Write> {
    buffer: Arc<Mutex<BufWriter<W>>>,
}

/// The binary's sink.
pub type BufferedStderr = Buffered<Stderr>;

impl<W: Write> Clone for Buffered<W> {
    fn clone(&self) -> Self {
        Buffered {
            buffer: Arc::clone(&self.buffer),
        }
    }
}

impl<W: Write> Buffered<W> {
    /// Buffers up to [`BUFFER_BYTES`] in front of `inner`.
    pub fn new(inner: W) -> Self {
        Buffered {
            buffer: Arc::new(Mutex::new(BufWriter::with_capacity(BUFFER_BYTES, inner))),
        }
    }

    /// Writes out everything buffered.
    pub fn flush(&self) {
        let _ = lock(&self.buffer).flush();
    }
}

/// A poisoned lock only means another thread panicked mid-write; the buffer
/// itself is still usable.
fn lock<W: Write>(buffer: &Mutex<BufWriter<W>>) -> MutexGuard<'_, BufWriter<W>> {
    buffer.lock().unwrap_or_else(|p| p.into_inner())
}

/// True for events that must not wait in the buffer: warnings and errors.
/// (`Level` orders by verbosity, so WARN and ERROR compare below INFO.)
fn urgent(level: &Level) -> bool {
    *level <= Level::WARN
}

/// One log event's writer: appends to the buffer, with any secret the
/// built-in rules find redacted, and writes everything out when the event is
/// urgent.
pub struct EventWriter<'a, W: Write> {
    sink: &'a Buffered<W>,
    urgent: bool,
}

/// `bytes` with secrets redacted (borrowed when there are none, or when the
/// bytes are not text).
fn redacted(bytes: &[u8]) -> Cow<'_, [u8]> {
    match std::str::from_utf8(bytes).map(|text| Redactor::standard().redact(text)) {
        Ok(Cow::Owned(text)) => Cow::Owned(text.into_bytes()),
        _ => Cow::Borrowed(bytes),
    }
}

impl<W: Write> Write for EventWriter<'_, W> {
    /// Takes all of `bytes` (redacted) or fails: a partial write would
    /// split a secret across two redactions.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        lock(&self.sink.buffer).write_all(&redacted(bytes))?;
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        lock(&self.sink.buffer).write_all(&redacted(bytes))
    }

    fn flush(&mut self) -> io::Result<()> {
        lock(&self.sink.buffer).flush()
    }
}

impl<W: Write> Drop for EventWriter<'_, W> {
    fn drop(&mut self) {
        if self.urgent {
            let _ = self.flush();
        }
    }
}

impl<'a, W: Write + 'a> MakeWriter<'a> for Buffered<W> {
    type Writer = EventWriter<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter {
            sink: self,
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        EventWriter {
            sink: self,
            urgent: urgent(meta.level()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_lines_are_written_as_formatted() {
        let line = Access {
            via: "direct-tls",
            method: "POST",
            path: "/v1/payment_intents",
            outcome: "hit",
            status: 200,
            cassette: "set/create-0123456789abcdef0123-001.json",
            micros: 1_234_567,
        };
        for micros in [0, 9, 10, 999, 1000, 1_234_567, 987_654_321] {
            let line = Access { micros, ..line };
            let mut written = Vec::new();
            line.write_to(&mut written).expect("written");
            assert_eq!(String::from_utf8(written).expect("utf-8"), line.to_string());
        }
        assert!(line.to_string().ends_with("latency_ms=1234.56"), "{line}");
    }

    #[test]
    fn timestamps_are_humantimes() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        for offset in [0, 1, 999_999, 1_000_000, 59_000_001, 86_400_000_000, 86_400_123_456] {
            let time = start + Duration::from_micros(offset);
            let mut written = Vec::new();
            write_timestamp(&mut written, time).expect("written");
            assert_eq!(
                String::from_utf8(written).expect("utf-8"),
                humantime::format_rfc3339_micros(time).to_string()
            );
        }
    }

    #[test]
    fn control_characters_are_escaped_for_the_terminal() {
        assert!(matches!(printable("/v1/payment_intents/pi_1"), Cow::Borrowed(_)));
        assert_eq!(printable("/a\u{1b}[31mred"), "/a\\u{1b}[31mred");
        assert_eq!(printable("x\u{9b}y"), "x\\u{9b}y");
    }

    /// What reached the "terminal".
    #[derive(Clone, Default)]
    struct Screen(Arc<Mutex<Vec<u8>>>);

    impl Write for Screen {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("screen").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Screen {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("screen")).into_owned()
        }
    }

    /// A subscriber writing through a [`Buffered`] sink to a [`Screen`];
    /// runs `f` with it.
    fn on_screen(f: impl FnOnce(&Screen)) -> (Screen, Buffered<Screen>) {
        let screen = Screen::default();
        let sink = Buffered::new(screen.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(sink.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || f(&screen));
        (screen, sink)
    }

    #[test]
    fn info_lines_wait_in_the_buffer_and_warnings_write_everything_out() {
        let (screen, sink) = on_screen(|screen| {
            tracing::info!("first access line");
            tracing::info!("second access line");
            assert_eq!(screen.text(), "", "info lines are buffered");
            tracing::warn!("a miss");
            let text = screen.text();
            let (first, miss) = (text.find("first access line"), text.find("a miss"));
            assert!(first.is_some() && miss.is_some() && first < miss, "in order: {text}");
            tracing::info!("third");
        });
        assert!(!screen.text().contains("third"));
        sink.flush();
        assert!(screen.text().contains("third"));
    }

    #[test]
    fn a_secret_logged_without_redaction_is_redacted_on_its_way_out() {
        let (screen, _) = on_screen(|_| {
            tracing::warn!(
                key = "metadata[key_sk_test_51Careless]",
                "ignoring /v1/payment_intents/sk%5Flive%5F51Careless"
            );
        });
        let text = screen.text();
        assert!(!text.contains("51Careless"), "{text}");
        assert!(
            text.contains("key_sk_test_REDACTED") && text.contains("sk%5Flive%5FREDACTED"),
            "{text}"
        );
    }
}
