//! Tells, from the first byte a client sends, whether it speaks TLS or plain
//! HTTP, so one port serves direct HTTPS, CONNECT and plain HTTP.

use std::time::Duration;

use tokio::net::TcpStream;

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// What the client opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A TLS ClientHello: direct HTTPS.
    Tls,
    /// Anything else: plain HTTP (including CONNECT and h2c prior knowledge).
    Plain,
}

/// Peeks (without consuming) the first byte. `None` when the client closed
/// or said nothing within `timeout`.
pub async fn sniff(stream: &TcpStream, timeout: Duration) -> Option<Protocol> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(timeout, stream.peek(&mut first)).await {
        Ok(Ok(1)) => Some(if first[0] == TLS_HANDSHAKE_RECORD {
            Protocol::Tls
        } else {
            Protocol::Plain
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    async fn sniff_bytes(bytes: &'static [u8]) -> Option<Protocol> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.write_all(bytes).await.expect("write");
            s
        });
        let (server, _) = listener.accept().await.expect("accept");
        let _client = client.await.expect("client");
        sniff(&server, Duration::from_secs(2)).await
    }

    #[tokio::test]
    async fn tells_tls_from_http() {
        assert_eq!(sniff_bytes(b"\x16\x03\x01").await, Some(Protocol::Tls));
        assert_eq!(sniff_bytes(b"GET / HTTP/1.1\r\n").await, Some(Protocol::Plain));
        assert_eq!(
            sniff_bytes(b"CONNECT api.stripe.com:443 HTTP/1.1\r\n").await,
            Some(Protocol::Plain)
        );
    }

    #[tokio::test]
    async fn silent_clients_time_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _client = TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        assert_eq!(sniff(&server, Duration::from_millis(50)).await, None);
    }
}
