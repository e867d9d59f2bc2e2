//! Accepting connections: one port for direct HTTPS, HTTP CONNECT and plain
//! HTTP. The first byte decides: a TLS handshake record means direct HTTPS,
//! anything else is served as plain HTTP (where CONNECT may open a tunnel).

pub mod connect;
pub mod http;
pub mod sniff;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::mode::{Mode, Via};
use crate::server::pipeline::State;
use sniff::Protocol;

/// One line saying why a TLS handshake failed and how to fix it. The usual
/// cause is a client that does not trust stripe-vcr's CA.
pub fn explain_handshake_failure(error: &std::io::Error, ca: &std::path::Path) -> String {
    use rustls::AlertDescription as Alert;
    let rustls_error = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::AlertReceived(
            Alert::UnknownCA | Alert::BadCertificate | Alert::CertificateUnknown | Alert::DecryptError,
        )) => format!(
            "TLS handshake failed: the client does not trust stripe-vcr's CA. Fix: trust {ca} (curl --cacert; Python stripe.ca_bundle_path; Node NODE_EXTRA_CA_CERTS; Go and Ruby SSL_CERT_FILE), see `stripe-vcr doctor --client NAME`",
            ca = ca.display()
        ),
        Some(rustls::Error::InvalidMessage(_)) => format!(
            "TLS handshake failed: the client did not speak TLS ({error}). If it sends plain HTTP, use http://127.0.0.1:PORT as its API base; HTTPS clients must trust {}",
            ca.display()
        ),
        _ => format!("TLS handshake failed: {error} (does the client trust {}? see `stripe-vcr doctor`)", ca.display()),
    }
}

/// Accepts connections until shutdown, each on its own task.
pub async fn accept_loop<M: Mode>(listener: TcpListener, state: Arc<State<M>>, direct_tls: Arc<rustls::ServerConfig>) {
    let acceptor = TlsAcceptor::from(direct_tls);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = state.shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let acceptor = acceptor.clone();
                state.tasks.clone().spawn(connection(stream, peer, state, acceptor));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection<M: Mode>(stream: TcpStream, peer: SocketAddr, state: Arc<State<M>>, acceptor: TlsAcceptor) {
    match sniff::sniff(&stream, state.handshake_timeout).await {
        None => tracing::debug!(%peer, "client sent nothing; closing"),
        Some(Protocol::Plain) => http::serve(stream, state, Via::Plain).await,
        Some(Protocol::Tls) => match tokio::time::timeout(state.handshake_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => http::serve(tls, state, Via::Direct).await,
            Ok(Err(e)) => tracing::warn!(%peer, "{}", explain_handshake_failure(&e, state.tls.ca().cert_pem_path())),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        },
    }
}
