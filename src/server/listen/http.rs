//! Serves HTTP/1.1 and HTTP/2 on one established stream (plain, TLS, or TLS
//! inside a CONNECT tunnel), dispatching CONNECT to the tunnel handler and
//! everything else to the request pipeline.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Version};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::either::Either;

use crate::answer::ProxyResponse;
use crate::mode::{Mode, Via};
use crate::server::listen::connect;
use crate::server::pipeline::{self, State};

/// Most headers one request may carry (more get 431); Stripe's SDKs send
/// about a dozen. This is hyper's default, deliberately not set explicitly:
/// an explicit limit makes hyper initialise a header array of that size for
/// every request (`tests/it/reliability.rs` checks the limit holds).
pub const MAX_HEADERS: usize = 100;
/// Largest header block accepted, in bytes.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Concurrent HTTP/2 streams per connection.
pub const MAX_STREAMS: u32 = 256;

/// Serves requests on `io` until the client closes or the proxy shuts down
/// (then in-flight requests finish and the connection closes gracefully).
pub async fn serve<M, I>(io: I, state: Arc<State<M>>, via: Via)
where
    M: Mode,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shutdown = state.shutdown.clone();
    let header_read_timeout = state.header_read_timeout;
    let service = service_fn(move |request: Request<Incoming>| {
        // Fairness between HTTP/1.1 connections: one task serves all of a
        // connection's requests, and tokio lets it run until it has spent a
        // budget of 128 I/O operations. A client that sends its next request
        // at once was served dozens of times in a row while the others
        // waited (32 connections: p50 0.16 ms, p99 4.2 ms). Yielding once per
        // request serves them in turn (p99 1.4 ms). HTTP/2 streams are tasks
        // of their own already.
        let take_turns = request.version() < Version::HTTP_2;
        let response = dispatch(state.clone(), request, via.clone());
        async move {
            if take_turns {
                tokio::task::yield_now().await;
            }
            Ok::<ProxyResponse, Infallible>(response.await)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .max_concurrent_streams(MAX_STREAMS)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        // Clients hanging up mid-request is routine; it is not our fault.
        tracing::debug!(error = %crate::answer::error_chain(e.as_ref()), "connection ended with an error");
    }
}

/// CONNECT to the tunnel handler, everything else to the pipeline. Not an
/// `async fn`: that would keep a second copy of the request in every
/// request's future. The tunnel's future is boxed: it is large and rare.
fn dispatch<M: Mode>(
    state: Arc<State<M>>,
    request: Request<Incoming>,
    via: Via,
) -> impl Future<Output = ProxyResponse> + Send {
    if request.method() == Method::CONNECT {
        Either::Left(Box::pin(connect::handle(state, request)))
    } else {
        Either::Right(pipeline::handle(state, request, via))
    }
}
