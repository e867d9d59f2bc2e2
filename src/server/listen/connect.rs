//! HTTP CONNECT (`HTTPS_PROXY=http://127.0.0.1:8443`): tunnels to the API
//! host are intercepted (TLS terminated with a leaf for that host, then the
//! requests inside go through the pipeline); tunnels to any other host are
//! passed through untouched in record mode and refused in replay mode.

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::answer::{self, ClientError, ProxyError, ProxyFault, ProxyResponse, UpstreamError};
use crate::mode::{ForeignTunnels, Mode, Via};
use crate::server::listen::http;
use crate::server::pipeline::State;

/// How long a pass-through tunnel may take to connect to its target.
const TUNNEL_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a CONNECT to `host:port` (a host the CA may sign for) reaches the
/// API: port 443, or the proxy's own port for a loopback name. Any other
/// port (`api.stripe.com:80`, `127.0.0.1:22`) is not the API, and goes the
/// way of every foreign tunnel: passed through in record, refused in replay.
fn serves_the_api(host: &str, port: u16, listen_port: u16) -> bool {
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    port == 443 || (loopback && port == listen_port)
}

/// Answers a CONNECT request and, on success, takes over the connection.
pub async fn handle<M: Mode>(state: Arc<State<M>>, request: Request<Incoming>) -> ProxyResponse {
    let Some(authority) = request.uri().authority().cloned() else {
        return ProxyError::from(ClientError::BadConnect(request.uri().to_string())).into_response();
    };
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let Some(port) = authority.port_u16() else {
        return ProxyError::from(ClientError::BadConnect(request.uri().to_string())).into_response();
    };
    if state.tls.ca().permits(&host) && serves_the_api(&host, port, state.listen_port) {
        return intercept(state, request, host);
    }
    match state.mode.foreign_tunnels() {
        ForeignTunnels::Refuse => {
            tracing::warn!(%authority, "CONNECT refused: replay mode never opens network connections");
            ProxyError::from(ClientError::TunnelRefused {
                authority: authority.to_string(),
            })
            .into_response()
        }
        ForeignTunnels::PassThrough => pass_through(state, request, authority.to_string()).await,
    }
}

fn intercept<M: Mode>(state: Arc<State<M>>, request: Request<Incoming>, host: String) -> ProxyResponse {
    let config = match state.tls.server_config_for(&host) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(%host, error = %e, "could not mint a certificate");
            return ProxyError::from(ProxyFault::Certificate {
                host,
                cause: e.to_string(),
            })
            .into_response();
        }
    };
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        let upgraded = match hyper::upgrade::on(request).await {
            Ok(upgraded) => upgraded,
            Err(e) => return tracing::debug!(error = %e, "CONNECT upgrade failed"),
        };
        let accept = TlsAcceptor::from(config).accept(TokioIo::new(upgraded));
        match tokio::time::timeout(state.handshake_timeout, accept).await {
            Ok(Ok(tls)) => http::serve(tls, state, Via::Tunnel(host)).await,
            Ok(Err(e)) => tracing::warn!(
                %host,
                "inside CONNECT: {}",
                crate::server::listen::explain_handshake_failure(&e, state.tls.ca().cert_pem_path())
            ),
            Err(_) => tracing::debug!(%host, "TLS handshake inside CONNECT timed out"),
        }
    });
    answer::tunnel_open()
}

async fn pass_through<M: Mode>(state: Arc<State<M>>, request: Request<Incoming>, authority: String) -> ProxyResponse {
    let target = match tokio::time::timeout(TUNNEL_CONNECT_TIMEOUT, TcpStream::connect(&authority)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            return ProxyError::from(UpstreamError::Unreachable {
                upstream: authority,
                cause: e.to_string(),
            })
            .into_response()
        }
        Err(_) => {
            return ProxyError::from(UpstreamError::Timeout {
                upstream: authority,
                after: TUNNEL_CONNECT_TIMEOUT,
            })
            .into_response()
        }
    };
    tracing::info!(%authority, "CONNECT passed through untouched (not the API host)");
    let shutdown = state.shutdown.clone();
    state.tasks.spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(request).await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        let mut target = target;
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut target) => {}
            () = shutdown.cancelled() => {}
        }
    });
    answer::tunnel_open()
}

#[cfg(test)]
mod tests {
    use super::serves_the_api;

    #[test]
    fn only_the_apis_ports_are_intercepted() {
        assert!(serves_the_api("api.stripe.com", 443, 8443));
        assert!(serves_the_api("localhost", 8443, 8443));
        assert!(serves_the_api("127.0.0.1", 8443, 8443));
        assert!(serves_the_api("::1", 8443, 8443));
        assert!(!serves_the_api("api.stripe.com", 80, 8443));
        assert!(!serves_the_api("api.stripe.com", 8443, 8443), "not a loopback name");
        assert!(!serves_the_api("127.0.0.1", 22, 8443));
        assert!(!serves_the_api("localhost", 9000, 8443));
    }
}
