//! Record mode: forward every request upstream, return the answer unchanged,
//! and save each Payment Intents exchange as a sealed (redacted) cassette.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::Response;

use crate::cassette::format::{
    Cassette, RecordedRequest, RecordedResponse, ResponseBody, ResponseHeaders, FORMAT_VERSION,
};
use crate::cassette::key::{file_name, RequestKey};
use crate::cassette::redact::Redactor;
use crate::cassette::store::CassetteStore;
use crate::error::{ClientError, ProxyResponse};
use crate::mode::{ApiRequest, ForeignTunnels, Handled, Mode, Severity};
use crate::route::{Endpoint, Route};
use crate::stats::Outcome;
use crate::stripe::auth::ApiKey;
use crate::upstream::{Upstream, UpstreamResponse};

/// Header added to a relayed response whose cassette could not be saved.
pub const WARNING_HEADER: &str = "stripe-vcr-warning";

/// The record-mode handler.
#[derive(Debug)]
pub struct Recorder {
    upstream: Upstream,
    store: CassetteStore,
    redactor: Arc<Redactor>,
    /// Forward requests made with live-mode keys (off by default).
    allow_live_keys: bool,
    /// How many times each request has been recorded in this session, so
    /// repeats are stored as occurrences 1, 2, 3… and re-recording the same
    /// session writes the same file names.
    occurrences: Mutex<HashMap<RequestKey, u32>>,
}

impl Recorder {
    /// A recorder forwarding to `upstream` and writing into `store`.
    pub fn new(upstream: Upstream, store: CassetteStore, redactor: Arc<Redactor>, allow_live_keys: bool) -> Recorder {
        Recorder {
            upstream,
            store,
            redactor,
            allow_live_keys,
            occurrences: Mutex::new(HashMap::new()),
        }
    }

    fn next_occurrence(&self, key: RequestKey) -> u32 {
        let mut map = self.occurrences.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let n = map.entry(key).or_insert(0);
        *n += 1;
        *n
    }

    async fn save(
        &self,
        request: &ApiRequest,
        endpoint: Endpoint,
        upstream: &UpstreamResponse,
    ) -> Result<String, String> {
        let occurrence = self.next_occurrence(request.key);
        let cassette = Cassette {
            format_version: FORMAT_VERSION,
            recorded_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            endpoint: endpoint.name().to_owned(),
            occurrence,
            request: RecordedRequest {
                canonical: request.canonical.clone(),
                body_encoding: request.body_encoding,
                user_agent: request.header("user-agent").map(str::to_owned),
            },
            response: RecordedResponse {
                status: upstream.status.as_u16(),
                headers: ResponseHeaders::from_upstream(&upstream.headers),
                body: ResponseBody::from_upstream(&upstream.body),
            },
        };
        // Redaction happens here, in memory, before the bytes go anywhere.
        let sealed = self
            .redactor
            .seal(&cassette)
            .map_err(|e| format!("could not redact the cassette: {e}"))?;
        let name = file_name(endpoint.name(), &request.key, occurrence);
        let store = self.store.clone();
        let written = {
            let name = name.clone();
            tokio::task::spawn_blocking(move || store.write(&name, &sealed)).await
        };
        match written {
            Ok(Ok(_)) => Ok(name),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("the writer task failed: {e}")),
        }
    }
}

/// The upstream's response as the client gets it: unchanged.
fn relay(upstream: &UpstreamResponse) -> ProxyResponse {
    let mut response = Response::new(Full::new(upstream.body.clone()));
    *response.status_mut() = upstream.status;
    *response.headers_mut() = upstream.headers.clone();
    response
}

impl Mode for Recorder {
    fn name(&self) -> &'static str {
        "record"
    }

    async fn handle(&self, request: ApiRequest) -> Handled {
        if !self.allow_live_keys {
            if let Some(key) = ApiKey::from_headers(&request.headers).filter(ApiKey::is_live) {
                return Handled::error(ClientError::LiveKeyRefused { key: key.masked() }.into());
            }
        }
        let upstream = match self
            .upstream
            .forward(
                &request.method,
                &request.path_and_query,
                &request.headers,
                request.body.clone(),
            )
            .await
        {
            Ok(answer) => answer,
            Err(e) => return Handled::error(e.into()),
        };
        let mut response = relay(&upstream);
        let Route::PaymentIntents(endpoint) = request.route else {
            let mut handled = Handled::ok(response, Outcome::Forwarded, None);
            handled.detail = Some((
                Severity::Info,
                format!("{} forwarded, not recorded: outside /v1/payment_intents", request.path),
            ));
            return handled;
        };
        match self.save(&request, endpoint, &upstream).await {
            Ok(name) => Handled::ok(response, Outcome::Recorded, Some(name)),
            Err(reason) => {
                let warning = format!("cassette not saved in {}: {reason}", self.store.dir().display());
                if let Ok(v) = HeaderValue::from_str(&warning.replace(['\r', '\n'], " ")) {
                    response.headers_mut().insert(WARNING_HEADER, v);
                }
                let mut handled = Handled::ok(response, Outcome::WriteFailed, None);
                handled.detail = Some((Severity::Error, warning));
                handled
            }
        }
    }

    fn foreign_tunnels(&self) -> ForeignTunnels {
        ForeignTunnels::PassThrough
    }
}
