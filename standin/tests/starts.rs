//! The stand-in starts, says where it listens, writes its CA and answers
//! like Stripe: a request without a key gets Stripe's 401. (This test is also
//! why a plain `cargo test` in the workspace builds the stand-in binary that
//! stripe-vcr's own tests record against.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

#[test]
fn starts_and_prints_its_address_and_writes_its_ca() {
    let dir = std::env::temp_dir().join(format!("standin-starts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = dir.join("ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stripe-vcr-standin"))
        .args(["--listen", "127.0.0.1:0", "--seed", "1", "--cert-out"])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("banner");
    let url = line
        .trim()
        .strip_prefix("listening on https://")
        .expect("banner line")
        .to_owned();
    let pem = std::fs::read_to_string(&ca).expect("CA written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    // A plain-HTTP request to the TLS port is not answered as HTTP.
    let mut stream = TcpStream::connect(&url).expect("connect");
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    assert!(!reply.starts_with(b"HTTP/1.1 200"), "{reply:?}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
