//! The benchmark's baseline: a minimal hyper + rustls server that serves the
//! same response bytes as a cassette directory holds, by method and path,
//! with no proxy logic at all (no decoding, canonicalising, hashing,
//! validation or logging). stripe-vcr's replay figures are reported as a
//! ratio to this server's, measured the same way on the same machine.
//!
//! `cargo run --release --example bench-baseline -- LISTEN CASSETTE_DIR CERTS_DIR`

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use stripe_vcr::cassette::store::CassetteStore;
use stripe_vcr::tls::{CertificateAuthority, LeafIssuer, DEFAULT_PERMITTED_HOSTS};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

type Table = HashMap<(String, String), (hyper::StatusCode, hyper::HeaderMap, Bytes)>;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, listen, cassettes, certs] = args.as_slice() else {
        eprintln!("usage: bench-baseline LISTEN CASSETTE_DIR CERTS_DIR");
        std::process::exit(2);
    };
    let mut table: Table = HashMap::new();
    for loaded in CassetteStore::new(cassettes)
        .load_sets()
        .expect("cassettes load")
        .into_values()
        .flatten()
    {
        let c = loaded.cassette;
        let status = hyper::StatusCode::from_u16(c.response.status).expect("status");
        let mut body = Vec::new();
        c.response.body.write_replayed(&mut body);
        table.insert(
            (c.request.canonical.method.clone(), c.request.canonical.path.clone()),
            (status, c.response.headers.to_header_map(), Bytes::from(body)),
        );
    }
    let table = Arc::new(table);
    let hosts: Vec<String> = DEFAULT_PERMITTED_HOSTS.iter().map(|h| (*h).to_owned()).collect();
    let (ca, _) = CertificateAuthority::load_or_create(certs.as_ref(), &hosts).expect("CA");
    let config = LeafIssuer::new(Arc::new(ca))
        .direct_server_config()
        .expect("TLS config");
    let acceptor = TlsAcceptor::from(config);
    let listener = TcpListener::bind(listen.as_str()).await.expect("bind");
    println!("listening on https://{}", listener.local_addr().expect("addr"));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, table) = (acceptor.clone(), table.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else { return };
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let table = table.clone();
                async move {
                    let key = (req.method().to_string(), req.uri().path().to_owned());
                    let _ = req.into_body().collect().await;
                    let response = match table.get(&key) {
                        Some((status, headers, body)) => {
                            let mut r = Response::new(Full::new(body.clone()));
                            *r.status_mut() = *status;
                            *r.headers_mut() = headers.clone();
                            r
                        }
                        None => {
                            let mut r = Response::new(Full::new(Bytes::from_static(b"{}")));
                            *r.status_mut() = hyper::StatusCode::NOT_FOUND;
                            r
                        }
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
