//! `stripe-vcr doctor`: the first-five-minutes check. Is the CA there and
//! valid, is the port free (or already serving stripe-vcr), does the cassette
//! directory load — and, given a client, how to set it up.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::cassette::load::index_walk;
use crate::cassette::store::CassetteStore;
use crate::tls::permitted_hosts;
use crate::tls::CertificateAuthority;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Worth knowing; nothing is broken.
    Note,
    Fail,
}

/// One check's result, with the fix when it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = match self.status {
            Status::Ok => "ok  ",
            Status::Note => "note",
            Status::Fail => "FAIL",
        };
        write!(f, "{mark}  {:<10} {}", self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            let label = if self.status == Status::Fail { "fix" } else { "next" };
            write!(f, "\n      {:<10} {label}: {fix}", "")?;
        }
        Ok(())
    }
}

fn check(name: &'static str, status: Status, detail: String, fix: Option<String>) -> Check {
    Check {
        name,
        status,
        detail,
        fix,
    }
}

/// Runs every check.
pub fn run(certs: &Path, cassettes: &Path, listen: SocketAddr, extra_hosts: &[String]) -> Vec<Check> {
    vec![
        check_ca(certs, extra_hosts),
        check_port(listen),
        check_cassettes(cassettes),
    ]
}

/// The CA exists, loads (key matches, CA:TRUE, name constraints) and is in date.
pub fn check_ca(dir: &Path, extra_hosts: &[String]) -> Check {
    let cert = dir.join("ca.pem");
    if !cert.exists() && !dir.join("ca-key.pem").exists() {
        return check(
            "CA",
            Status::Note,
            format!("no CA in {} yet", dir.display()),
            Some("`stripe-vcr certs` creates it (record and replay also create it on first start)".into()),
        );
    }
    match CertificateAuthority::load_or_create(dir, &permitted_hosts(extra_hosts)) {
        Err(e) => check(
            "CA",
            Status::Fail,
            e.to_string(),
            Some(format!(
                "delete {}/ca.pem and {}/ca-key.pem, then run `stripe-vcr certs`",
                dir.display(),
                dir.display()
            )),
        ),
        Ok((ca, _)) => match days_left(ca.cert_der()) {
            Some(days) if days < 1 => check(
                "CA",
                Status::Fail,
                format!("{} has expired", cert.display()),
                Some(format!(
                    "delete {}/ca.pem and {}/ca-key.pem, then run `stripe-vcr certs` and re-trust it",
                    dir.display(),
                    dir.display()
                )),
            ),
            days => check(
                "CA",
                Status::Ok,
                format!(
                    "{} valid{}, signs only for {}",
                    cert.display(),
                    days.map(|d| format!(" for {d} more days")).unwrap_or_default(),
                    ca.permitted_hosts().join(", ")
                ),
                None,
            ),
        },
    }
}

fn days_left(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some((cert.validity().not_after.timestamp() - now) / 86_400)
}

/// The port is free, or a stripe-vcr already answers there.
pub fn check_port(listen: SocketAddr) -> Check {
    match TcpListener::bind(listen) {
        Ok(_) => check("port", Status::Ok, format!("{listen} is free"), None),
        Err(e) => match probe_health(listen) {
            Some(mode) => check("port", Status::Note, format!("a stripe-vcr ({mode} mode) is already listening on {listen}"), None),
            None => check(
                "port",
                Status::Fail,
                format!("{listen} is taken by something else ({e})"),
                Some("pass another address with --listen, e.g. --listen 127.0.0.1:8444, and use that port in your client".into()),
            ),
        },
    }
}

/// Asks `/__stripe-vcr/health` over plain HTTP; the mode when it answers.
fn probe_health(listen: SocketAddr) -> Option<String> {
    let target = if listen.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], listen.port()))
    } else {
        listen
    };
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /__stripe-vcr/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.take(64 * 1024).read_to_string(&mut response).ok()?;
    let body = response.split("\r\n\r\n").nth(1)?;
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    (json["service"] == "stripe-vcr").then(|| json["mode"].as_str().unwrap_or("?").to_owned())
}

/// The cassette directory exists and every cassette in it and in every set
/// below it loads into its set's replay index, as `replay` would load it.
/// Directories read once under two names (a link back up the tree) are a note.
pub fn check_cassettes(dir: &Path) -> Check {
    let store = CassetteStore::new(dir);
    let loaded = store
        .walk()
        .map_err(|e| e.to_string())
        .and_then(|walk| index_walk(&walk).map(|_| walk).map_err(|e| e.to_string()));
    match loaded {
        Ok(walk) if walk.cassettes.is_empty() => check(
            "cassettes",
            Status::Note,
            format!("{} is empty", dir.display()),
            Some("record a session with `stripe-vcr record --cassettes DIR`".into()),
        ),
        Ok(walk) => {
            let sets = walk.sets_summary().map(|s| format!(" ({s})")).unwrap_or_default();
            let detail = format!("{} cassettes in {} load{sets}", walk.cassettes.len(), dir.display());
            match walk.skipped.first() {
                None => check("cassettes", Status::Ok, detail, None),
                Some(first) => check(
                    "cassettes",
                    Status::Note,
                    format!("{detail}; {first}"),
                    Some(format!(
                        "remove the link {} (a set is a real subdirectory)",
                        first.path.display()
                    )),
                ),
            }
        }
        Err(e) if !dir.exists() => check(
            "cassettes",
            Status::Fail,
            e,
            Some(format!(
                "record into it first (`stripe-vcr record --cassettes {}`), or point --cassettes at your recordings",
                dir.display()
            )),
        ),
        Err(e) => check(
            "cassettes",
            Status::Fail,
            e,
            Some("fix or delete that file (`stripe-vcr verify` lists every problem), or re-record".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_directory_gets_notes_not_failures() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = check_ca(&dir.path().join("certs"), &[]);
        assert_eq!(ca.status, Status::Note, "{ca}");
        std::fs::create_dir(dir.path().join("cassettes")).expect("dir");
        assert_eq!(check_cassettes(&dir.path().join("cassettes")).status, Status::Note);
        let missing = check_cassettes(&dir.path().join("nope"));
        assert_eq!(missing.status, Status::Fail);
        assert!(missing.to_string().contains("fix: record into it first"), "{missing}");
    }

    /// Writes a valid cassette named `name` into `dir`.
    fn plant(dir: &Path, name: &str) {
        CassetteStore::new(dir)
            .write(name, &crate::cassette::store::tests::cassette(1))
            .and_then(crate::cassette::store::Written::sync)
            .expect("write");
    }

    #[test]
    fn cassettes_in_sets_are_counted_per_set_and_a_malformed_one_fails_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        plant(dir.path(), "a.json");
        plant(&dir.path().join("checkout"), "b.json");
        plant(&dir.path().join("checkout/eu"), "c.json");
        let ok = check_cassettes(dir.path());
        assert_eq!(ok.status, Status::Ok, "{ok}");
        assert!(
            ok.detail.starts_with("3 cassettes in")
                && ok.detail.ends_with("load (1 at the top, checkout 1, checkout/eu 1)"),
            "{ok}"
        );
        // Two levels down, where the root-only check never looked.
        std::fs::write(
            dir.path().join("checkout/eu/bad.json"),
            b"{\n  \"format_version\": 1,\n  oops\n}",
        )
        .expect("write");
        let bad = check_cassettes(dir.path());
        assert_eq!(bad.status, Status::Fail, "{bad}");
        assert!(
            bad.detail.contains("checkout/eu/bad.json") && bad.detail.contains("line 3"),
            "{bad}"
        );
        assert!(bad.to_string().contains("fix or delete that file"), "{bad}");
    }

    #[test]
    fn a_link_back_up_the_tree_is_a_note_not_a_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        plant(dir.path(), "a.json");
        std::os::unix::fs::symlink(".", dir.path().join("a")).expect("link");
        std::os::unix::fs::symlink(".", dir.path().join("b")).expect("link");
        let note = check_cassettes(dir.path());
        assert_eq!(note.status, Status::Note, "{note}");
        assert!(
            note.detail.starts_with("1 cassettes in") && note.detail.contains("is the same directory as"),
            "{note}"
        );
        assert!(note.to_string().contains("remove the link"), "{note}");
    }

    #[test]
    fn a_valid_ca_is_ok_and_a_broken_one_fails() {
        let dir = tempfile::tempdir().expect("tempdir");
        CertificateAuthority::load_or_create(dir.path(), &permitted_hosts(&[])).expect("ca");
        let ok = check_ca(dir.path(), &[]);
        assert_eq!(ok.status, Status::Ok, "{ok}");
        assert!(ok.detail.contains("signs only for api.stripe.com"), "{ok}");
        std::fs::write(dir.path().join("ca.pem"), "not a certificate").expect("write");
        assert_eq!(check_ca(dir.path(), &[]).status, Status::Fail);
    }

    #[test]
    fn a_taken_port_fails_with_a_fix() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = check_port(taken.local_addr().expect("addr"));
        assert_eq!(port.status, Status::Fail, "{port}");
        assert!(port.to_string().contains("--listen"), "{port}");
        drop(taken);
    }
}
