//! The in-memory replay index: every loaded cassette by request key, the
//! per-request sequence counters, and the search for the recording closest
//! to a request nobody recorded (how close, and its wording, is
//! `nearmiss`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};

use crate::cassette::arena::Arena;
use crate::cassette::format::{Cassette, ResponseBody, ResponseHeaders};
use crate::cassette::key::{CanonicalRequest, RequestKey};
use crate::cassette::nearmiss::{differences, Difference, NearMiss};
use crate::cassette::nearmiss::{dissimilarity, score};
use crate::cassette::store::LoadedCassette;
use crate::stripe::idempotency;
use crate::stripe::route::Route;

/// A response ready to send: parsed and serialised once at load time, so
/// serving it clones reference-counted bytes. Headers are kept as a compact
/// list whose names and values are shared across the whole index (most
/// cassettes repeat the same `content-type`, `stripe-version`, …).
#[derive(Debug, Clone)]
pub struct PreparedResponse {
    pub status: StatusCode,
    pub headers: Arc<[(HeaderName, HeaderValue)]>,
    pub body: Bytes,
}

impl PreparedResponse {
    /// The headers as a map, for a response.
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in self.headers.iter() {
            map.append(name.clone(), value.clone());
        }
        map
    }
}

/// Keys are SHA-256 digests, already uniform: hashing them again with
/// SipHash only costs time on every look-up. (The index never grows after
/// loading, so keys an attacker picks cannot crowd its buckets.)
type KeyHasher = rustc_hash::FxBuildHasher;

/// One loaded cassette.
#[derive(Debug)]
pub struct Recording {
    pub file_name: String,
    /// The canonical request as compact JSON: kept small (a parsed
    /// request with its maps costs several times more), parsed again only
    /// to explain a miss.
    canonical: Bytes,
    pub occurrence: u32,
    pub response: PreparedResponse,
    /// When it was recorded (`None` if the file's timestamp is unreadable).
    pub recorded_at: Option<SystemTime>,
    /// The cassette whose `Idempotency-Key` this request sent again while
    /// recording: served only to a request that reuses that cassette's key.
    pub reuses_key_of: Option<Box<str>>,
    /// Whether Stripe saved this result under the request's idempotency key
    /// (`stripe::idempotency::result_is_saved`).
    pub saved_by_stripe: bool,
    /// Served at least once in this run.
    served: AtomicBool,
    /// The request's method and endpoint: its group in the near-miss search.
    group: NearKey,
    /// The response as its set serves it, made the first time it is
    /// (boxed: most recordings of a large library are never served).
    ready: OnceLock<Box<Ready>>,
}

/// A recording's response head as replay sends it on every hit, made once:
/// cloning a finished header map costs no hashing, building one does.
#[derive(Debug)]
pub struct Ready {
    /// The recorded headers as they are served (replay's own added).
    pub headers: HeaderMap,
    /// The cassette's name within the cassette directory.
    pub cassette: crate::cassette::name::CassetteName,
}

impl Recording {
    /// What [`Ready`] holds for this recording: `make` runs the first time
    /// (with the recording), then its result is reused. Every caller must
    /// make the same thing: one replayer, with the set this index is of.
    pub fn ready(&self, make: impl FnOnce(&Recording) -> Ready) -> &Ready {
        self.ready.get_or_init(|| Box::new(make(self)))
    }

    /// The recorded canonical request.
    pub fn canonical(&self) -> Option<CanonicalRequest> {
        serde_json::from_slice(&self.canonical).ok()
    }
}

/// Every occurrence of one request, in recorded order, and how far this run
/// has got through them.
#[derive(Debug)]
struct Sequence {
    recordings: Vec<Arc<Recording>>,
    progress: Progress,
}

/// How far replay has got through a sequence.
#[derive(Debug)]
enum Progress {
    /// No occurrence reused another's idempotency key (the usual case): a
    /// counter, the next occurrence to serve.
    InOrder(AtomicUsize),
    /// Some occurrences are recorded retries, served only to the request
    /// that reuses their key, out of turn: which ones are used up.
    Tracked(Mutex<Vec<bool>>),
}

impl Progress {
    fn for_recordings(recordings: &[Arc<Recording>]) -> Progress {
        if recordings.iter().any(|r| r.reuses_key_of.is_some()) {
            Progress::Tracked(Mutex::new(vec![false; recordings.len()]))
        } else {
            Progress::InOrder(AtomicUsize::new(0))
        }
    }

    fn reset(&self) {
        match self {
            Progress::InOrder(next) => next.store(0, Ordering::Relaxed),
            Progress::Tracked(used) => used.lock().unwrap_or_else(|p| p.into_inner()).fill(false),
        }
    }
}

/// Cassettes indexed for replay.
#[derive(Debug, Default)]
pub struct ReplayIndex {
    by_key: HashMap<RequestKey, Sequence, KeyHasher>,
    count: usize,
    near: NearIndex,
}

/// At most this many recordings of one (method, endpoint) group are
/// compared with a request that missed, however large the library: the
/// request's neighbours in the group's two orders (see [`NearIndex`]).
/// Smaller groups are compared whole.
pub const NEAR_MISS_CANDIDATES: usize = 64;

/// The recorded requests (the first occurrence of each), grouped for the
/// near-miss search by method and endpoint (which fixes the path's shape),
/// so a miss looks first where the closest recording can be, and only as
/// far as a closer one could still be found.
///
/// Within a group, recordings are sorted by their canonical bytes from the
/// path on (`"path", "params", "headers"`), and again by those bytes read
/// backwards. A request's neighbours in the first order share the
/// longest start with it (the same path, then the same leading
/// parameters: a typo late in an id or a value); in the second, the
/// longest end (the same headers and trailing parameters, the end of an
/// id: a typo early in it). In a group larger than
/// [`NEAR_MISS_CANDIDATES`], those neighbours are the candidates.
#[derive(Debug, Default)]
struct NearIndex {
    groups: Vec<NearGroup>,
}

#[derive(Debug)]
struct NearGroup {
    key: NearKey,
    /// Sorted by canonical bytes from the path on.
    forward: Vec<Arc<Recording>>,
    /// Positions in `forward`, sorted by canonical bytes read backwards.
    backward: Vec<u32>,
}

/// A recorded request's group in the near-miss search: its method and its
/// operation (`None` outside the API), worked out once when
/// it is loaded. Methods other than these few share one group, their own
/// method compared with the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct NearKey {
    method: u8,
    route: Option<u64>,
}

/// The methods with a group of their own, by [`NearKey::method`].
const NEAR_METHODS: [&str; 3] = ["GET", "POST", "DELETE"];

impl NearKey {
    fn of(method: &str, path: &str) -> NearKey {
        NearKey {
            method: NEAR_METHODS
                .iter()
                .position(|m| *m == method)
                .map_or(u8::MAX, |i| i as u8),
            route: route_of(method, path),
        }
    }

    /// The least score a recording of this group can have against a
    /// request of group `sent`: a method difference costs 100; another
    /// endpoint means another path (at least 5).
    fn least_score(self, sent: NearKey) -> u32 {
        if self.method != sent.method || self.method == u8::MAX {
            // Another method, or one of the rest, which may be another.
            return if self.method == sent.method { 0 } else { 100 };
        }
        if self.route == sent.route {
            0
        } else {
            5
        }
    }
}

/// Collects the first recording of each request, by group.
#[derive(Default)]
struct NearIndexBuilder {
    groups: Vec<(NearKey, Vec<Arc<Recording>>)>,
    /// The group the last recording went to: recordings come in bursts.
    last: usize,
}

impl NearIndexBuilder {
    fn add(&mut self, first: &Arc<Recording>) {
        let key = first.group;
        if self.groups.get(self.last).is_none_or(|g| g.0 != key) {
            self.last = self.groups.iter().position(|g| g.0 == key).unwrap_or_else(|| {
                self.groups.push((key, Vec::new()));
                self.groups.len() - 1
            });
        }
        self.groups[self.last].1.push(first.clone());
    }

    fn finish(mut self) -> NearIndex {
        self.groups.sort_by_key(|g| g.0);
        NearIndex {
            groups: self
                .groups
                .into_iter()
                .map(|(key, members)| NearGroup::new(key, members))
                .collect(),
        }
    }
}

impl NearGroup {
    fn new(key: NearKey, mut members: Vec<Arc<Recording>>) -> NearGroup {
        // In the order their bytes lie in memory: each pass below then
        // reads them front to back instead of jumping about a large library.
        members.sort_unstable_by_key(|r| r.canonical.as_ptr() as usize);
        // From the path on: the group "other methods" mixes methods, and a
        // request is looked up by its bytes from the path on (see `candidates`).
        let bytes: Vec<&[u8]> = members.iter().map(|r| after_method(&r.canonical)).collect();
        // What every recording of the group starts or ends with (the
        // method and path's start; the headers, often the parameters)
        // orders nothing. Each is sorted by the 8 bytes after its shared
        // start (or before its shared end), the bytes themselves only on a
        // tie: a comparison seldom leaves the sort's own array.
        let (first, rest) = bytes.split_first().map_or((&[][..], &[][..]), |(f, r)| (*f, r));
        let (mut starts, mut ends) = (first.len(), first.len());
        for b in rest {
            // Usually still shared: one comparison of the whole run.
            if !b.starts_with(&first[..starts]) {
                starts = common_prefix(&first[..starts], b);
            }
            if !b.ends_with(&first[first.len() - ends..]) {
                ends = common_suffix(&first[first.len() - ends..], b);
            }
        }
        if rest.is_empty() {
            (starts, ends) = (0, 0);
        }
        let mut order: Vec<(u64, &[u8], u32)> = bytes.iter().zip(0..).map(|(b, i)| (head(b, starts), *b, i)).collect();
        order.sort_unstable();
        let mut backward: Vec<(u64, &[u8], u32)> = order
            .iter()
            .zip(0..)
            .map(|(&(_, b, _), at)| {
                let unshared = &b[..b.len() - ends];
                (tail(unshared), unshared, at)
            })
            .collect();
        backward.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.iter().rev().cmp(b.1.iter().rev())));
        let backward: Vec<u32> = backward.into_iter().map(|(_, _, at)| at).collect();
        let order: Vec<u32> = order.into_iter().map(|(_, _, i)| i).collect();
        // Moved into place, not cloned: no reference count is touched.
        let mut members: Vec<Option<Arc<Recording>>> = members.into_iter().map(Some).collect();
        NearGroup {
            key,
            forward: order.iter().filter_map(|&i| members[i as usize].take()).collect(),
            backward,
        }
    }
}

/// The 8 bytes of `bytes` from `from` on, as a number that orders as they
/// do (zeros past the end: JSON holds no zero byte).
fn head(bytes: &[u8], from: usize) -> u64 {
    let mut key = [0u8; 8];
    for (k, b) in key.iter_mut().zip(bytes.iter().skip(from)) {
        *k = *b;
    }
    u64::from_be_bytes(key)
}

/// The last 8 bytes of `bytes`, last first, as a number that orders as
/// they do read backwards.
fn tail(bytes: &[u8]) -> u64 {
    let mut key = [0u8; 8];
    for (k, b) in key.iter_mut().zip(bytes.iter().rev()) {
        *k = *b;
    }
    u64::from_be_bytes(key)
}

/// How many bytes `a` and `b` start with in common.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Canonical bytes from the path on.
fn after_method(canonical: &[u8]) -> &[u8] {
    const PATH: &[u8] = b",\"path\":";
    canonical
        .windows(PATH.len())
        .position(|w| w == PATH)
        .map_or(canonical, |at| &canonical[at..])
}

/// How many bytes `a` and `b` end with in common.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count()
}

/// The canonical bytes read from the end.
fn backwards(recording: &Recording) -> std::iter::Rev<std::slice::Iter<'_, u8>> {
    recording.canonical.iter().rev()
}

/// The operation of `method path`, as a hash of its name (`None` outside
/// the API): recordings of one operation share a near-miss group.
fn route_of(method: &str, path: &str) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let route = Method::from_bytes(method.as_bytes())
        .ok()
        .map(|m| Route::classify(&m, path))?;
    let name = route.name()?;
    // SipHash with fixed keys: the same name, the same group, in every run.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    Some(hasher.finish())
}

/// Builds an index one cassette at a time, keeping only what replay needs
/// (the response pre-serialised, the canonical request) and dropping the
/// parsed cassette right away, so loading a large library never holds it twice.
#[derive(Debug, Default)]
pub struct IndexBuilder {
    grouped: HashMap<RequestKey, Vec<Arc<Recording>>, KeyHasher>,
    count: usize,
    /// Header names and values seen so far, shared by every response.
    names: HashMap<String, HeaderName>,
    values: HashMap<String, HeaderValue>,
    /// Where bodies and canonical requests are kept.
    arena: Arena,
    /// Reused to serialise each one before it is packed.
    scratch: Vec<u8>,
}

/// The shared copy of the value known as `text`, or `value` itself, which
/// becomes the shared copy. Looks up before inserting: almost every header is
/// already known, and its text need not be copied to ask.
fn interned<V: Clone>(known: &mut HashMap<String, V>, text: &str, value: &V) -> V {
    if let Some(shared) = known.get(text) {
        return shared.clone();
    }
    known.insert(text.to_owned(), value.clone());
    value.clone()
}

impl IndexBuilder {
    /// Adds one cassette.
    pub fn add(&mut self, file_name: String, cassette: Cassette) -> Result<(), IndexError> {
        let status = StatusCode::from_u16(cassette.response.status).map_err(|_| IndexError::BadStatus {
            file: file_name.clone(),
            status: cassette.response.status,
        })?;
        let headers = self.intern(&cassette.response.headers);
        // Stored by any version: matched by today's canonical form.
        let canonical = cassette.request.canonical.canonicalised();
        let group = NearKey::of(&canonical.method, &canonical.path);
        self.scratch.clear();
        canonical.write_canonical_bytes(&mut self.scratch);
        let key = RequestKey::of_canonical_bytes(&self.scratch);
        let canonical = self.arena.pack(&self.scratch);
        self.scratch.clear();
        cassette.response.body.write_replayed(&mut self.scratch);
        let body = self.arena.pack(&self.scratch);
        let json_body = match &cassette.response.body {
            ResponseBody::Body(value) => Some(value),
            ResponseBody::BodyText(_) => None,
        };
        let recording = Recording {
            response: PreparedResponse { status, headers, body },
            recorded_at: humantime::parse_rfc3339_weak(&cassette.recorded_at).ok(),
            reuses_key_of: cassette.request.reuses_idempotency_key_of.map(String::into_boxed_str),
            saved_by_stripe: idempotency::result_is_saved(cassette.response.status, json_body),
            served: AtomicBool::new(false),
            ready: OnceLock::new(),
            occurrence: cassette.occurrence,
            group,
            canonical,
            file_name,
        };
        self.grouped.entry(key).or_default().push(Arc::new(recording));
        self.count += 1;
        Ok(())
    }

    fn intern(&mut self, headers: &ResponseHeaders) -> Arc<[(HeaderName, HeaderValue)]> {
        let prepared = headers.to_header_map();
        prepared
            .iter()
            .map(|(name, value)| {
                let name = interned(&mut self.names, name.as_str(), name);
                let value = match value.to_str() {
                    Ok(text) => interned(&mut self.values, text, value),
                    Err(_) => value.clone(),
                };
                (name, value)
            })
            .collect()
    }

    /// Adds everything another builder collected (for parallel loading).
    pub fn merge(&mut self, other: IndexBuilder) {
        for (key, mut recordings) in other.grouped {
            self.grouped.entry(key).or_default().append(&mut recordings);
        }
        self.count += other.count;
    }

    /// The finished index; refuses two files holding the same occurrence.
    pub fn finish(self) -> Result<ReplayIndex, IndexError> {
        let mut by_key = HashMap::with_capacity_and_hasher(self.grouped.len(), KeyHasher::default());
        let mut near = NearIndexBuilder::default();
        for (key, mut recordings) in self.grouped {
            recordings.sort_by_key(|r| r.occurrence);
            recordings.shrink_to_fit();
            if let Some(w) = recordings.windows(2).find(|w| w[0].occurrence == w[1].occurrence) {
                return Err(IndexError::DuplicateOccurrence {
                    first: w[0].file_name.clone(),
                    second: w[1].file_name.clone(),
                    occurrence: w[0].occurrence,
                });
            }
            let progress = Progress::for_recordings(&recordings);
            near.add(&recordings[0]);
            by_key.insert(key, Sequence { recordings, progress });
        }
        Ok(ReplayIndex {
            near: near.finish(),
            by_key,
            count: self.count,
        })
    }
}

/// Why cassettes could not be indexed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{file}: status {status} is not a valid HTTP status")]
    BadStatus { file: String, status: u16 },
    #[error("{first} and {second} both record occurrence {occurrence} of the same request; delete one")]
    DuplicateOccurrence {
        first: String,
        second: String,
        occurrence: u32,
    },
}

impl ReplayIndex {
    /// Builds the index. The key is computed from each cassette's stored
    /// canonical request (not trusted from its file name).
    pub fn build(loaded: Vec<LoadedCassette>) -> Result<ReplayIndex, IndexError> {
        let mut builder = IndexBuilder::default();
        for LoadedCassette { file_name, cassette } in loaded {
            builder.add(file_name, cassette)?;
        }
        builder.finish()
    }

    /// Number of cassettes loaded.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no cassette is loaded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The recording to serve for `key` to a request that is not an
    /// idempotent retry: occurrences in recorded order, skipping those that
    /// were recorded retries (kept for the request that reuses their key, see
    /// [`ReplayIndex::next_reusing`]) while any other is left, and after the
    /// last one, the last one again.
    pub fn next(&self, key: &RequestKey) -> Option<Arc<Recording>> {
        let seq = self.by_key.get(key)?;
        let last = seq.recordings.len().checked_sub(1)?;
        let n = match &seq.progress {
            Progress::InOrder(next) => next.fetch_add(1, Ordering::Relaxed).min(last),
            Progress::Tracked(used) => {
                let mut used = used.lock().unwrap_or_else(|p| p.into_inner());
                let open = |i: &usize| !used[*i];
                let n = (0..=last)
                    .filter(open)
                    .find(|i| seq.recordings[*i].reuses_key_of.is_none())
                    .or_else(|| (0..=last).find(open))
                    .unwrap_or(last);
                used[n] = true;
                n
            }
        };
        let recording = seq.recordings.get(n).cloned()?;
        recording.served.store(true, Ordering::Relaxed);
        Some(recording)
    }

    /// The next recorded retry of `key` that reused the idempotency key of
    /// the cassette `first` (a file name in the same set), if one is left:
    /// what the recording saw when the app sent that key again.
    pub fn next_reusing(&self, key: &RequestKey, first: &str) -> Option<Arc<Recording>> {
        let seq = self.by_key.get(key)?;
        let Progress::Tracked(used) = &seq.progress else {
            return None;
        };
        let mut used = used.lock().unwrap_or_else(|p| p.into_inner());
        let n = (0..seq.recordings.len())
            .find(|i| !used[*i] && seq.recordings[*i].reuses_key_of.as_deref() == Some(first))?;
        used[n] = true;
        let recording = seq.recordings[n].clone();
        recording.served.store(true, Ordering::Relaxed);
        Some(recording)
    }

    /// Whether `key` has a recording (then [`ReplayIndex::next`] always
    /// finds one).
    pub fn contains(&self, key: &RequestKey) -> bool {
        self.by_key.contains_key(key)
    }

    /// Every occurrence of `key`, in recorded order (empty if none).
    pub fn recordings(&self, key: &RequestKey) -> &[Arc<Recording>] {
        self.by_key.get(key).map_or(&[], |seq| seq.recordings.as_slice())
    }

    /// Occurrence `occurrence` of `key`, if recorded (does not advance anything).
    pub fn get(&self, key: &RequestKey, occurrence: u32) -> Option<Arc<Recording>> {
        let seq = self.by_key.get(key)?;
        let recording = seq.recordings.iter().find(|r| r.occurrence == occurrence).cloned()?;
        recording.served.store(true, Ordering::Relaxed);
        Some(recording)
    }

    /// File names of the cassettes never served in this run, sorted.
    pub fn unused(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .by_key
            .values()
            .flat_map(|seq| seq.recordings.iter())
            .filter(|r| !r.served.load(Ordering::Relaxed))
            .map(|r| r.file_name.clone())
            .collect();
        names.sort();
        names
    }

    /// Restarts every sequence from its first occurrence.
    pub fn reset(&self) {
        for seq in self.by_key.values() {
            seq.progress.reset();
        }
    }

    /// The recorded request most like `request`, and how they differ: the
    /// fewest and least important differences first, then the most similar
    /// values (a typo in an id points at the id it was meant to be), then
    /// the file name.
    ///
    /// Groups of recordings are searched from the one a closest recording
    /// is likeliest in (same method and endpoint), and a group is skipped
    /// once no recording in it could rank before the closest found so far.
    /// A group larger than [`NEAR_MISS_CANDIDATES`] contributes only the
    /// request's neighbours (see [`NearIndex`]), so a miss costs about the
    /// same at 100,000 cassettes as at 100 (bench/RESULTS.md).
    pub fn closest(&self, request: &CanonicalRequest) -> Option<NearMiss> {
        let sent = request.canonical_bytes();
        let sent_key = NearKey::of(&request.method, &request.path);
        let mut groups: Vec<(u32, &NearGroup)> = self
            .near
            .groups
            .iter()
            .map(|g| (g.key.least_score(sent_key), g))
            .collect();
        groups.sort_by_key(|(least, _)| *least);
        let mut best: Option<(Rank, &Recording, CanonicalRequest, Vec<Difference>)> = None;
        for (least, group) in groups {
            if best.as_ref().is_some_and(|(rank, ..)| rank.0 < least) {
                break;
            }
            for recording in group.candidates(&sent) {
                let Some(canonical) = recording.canonical() else {
                    continue;
                };
                let differences = differences(request, &canonical);
                let rank = (score(&differences), dissimilarity(&differences));
                let closer = best.as_ref().is_none_or(|(best_rank, best_recording, ..)| {
                    (rank, recording.file_name.as_str()) < (*best_rank, best_recording.file_name.as_str())
                });
                if closer {
                    best = Some((rank, recording, canonical, differences));
                }
            }
        }
        best.map(|(_, recording, canonical, differences)| NearMiss {
            file_name: recording.file_name.clone(),
            recorded: canonical.summary(),
            differences,
        })
    }
}

/// How close a recording is: (weighted difference count, edit distance).
type Rank = (u32, usize);

impl NearGroup {
    /// The recordings to compare with a request whose canonical bytes are
    /// `sent`: all of them in a small group, else its neighbours in both
    /// orders.
    fn candidates<'a>(&'a self, sent: &[u8]) -> Box<dyn Iterator<Item = &'a Recording> + 'a> {
        if self.forward.len() <= NEAR_MISS_CANDIDATES {
            return Box::new(self.forward.iter().map(|r| r.as_ref()));
        }
        let reach = NEAR_MISS_CANDIDATES / 4;
        let around = |at: usize| at.saturating_sub(reach)..(at + reach).min(self.forward.len());
        // Compared from the path on: in another method's group, the
        // request's own method would otherwise put it at one end.
        let sent_rest = after_method(sent);
        let at = self.forward.partition_point(|r| after_method(&r.canonical) < sent_rest);
        let back_at = self
            .backward
            .partition_point(|&i| backwards(&self.forward[i as usize]).lt(sent.iter().rev()));
        let mut picked: Vec<usize> = around(at)
            .chain(around(back_at).map(|i| self.backward[i] as usize))
            .collect();
        picked.sort_unstable();
        picked.dedup();
        Box::new(picked.into_iter().map(|i| self.forward[i].as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassette::format::*;
    use crate::stripe::params::Params;

    fn canonical(method: &str, path: &str, body: &str, version: &str) -> CanonicalRequest {
        let params = Params::from_form(body.as_bytes(), "body").expect("form");
        CanonicalRequest::new(
            crate::stripe::redact::Redactor::standard(),
            method,
            path,
            &params,
            |h| (h == "stripe-version").then(|| version.to_owned()),
        )
    }

    fn loaded(name: &str, canonical: CanonicalRequest, occurrence: u32, status: u16) -> LoadedCassette {
        LoadedCassette {
            file_name: name.into(),
            cassette: Cassette {
                format_version: FORMAT_VERSION,
                recorded_at: "2026-11-22T00:00:00Z".into(),
                endpoint: "x".into(),
                occurrence,
                request: RecordedRequest {
                    canonical,
                    body_encoding: BodyEncoding::Form,
                    user_agent: None,
                    reuses_idempotency_key_of: None,
                },
                response: RecordedResponse {
                    status,
                    headers: ResponseHeaders::default(),
                    body: ResponseBody::Body(serde_json::json!({ "occurrence": occurrence })),
                },
            },
        }
    }

    #[test]
    fn interning_hands_back_the_first_copy_of_a_value() {
        let mut known = HashMap::new();
        let value = |text: &'static str| HeaderValue::from_maybe_shared(Bytes::from(text.to_owned())).expect("value");
        let first = value("application/json");
        let again = value("application/json");
        let a = interned(&mut known, "application/json", &first);
        let b = interned(&mut known, "application/json", &again);
        assert_eq!(a.as_bytes().as_ptr(), first.as_bytes().as_ptr());
        assert_eq!(
            b.as_bytes().as_ptr(),
            first.as_bytes().as_ptr(),
            "a second copy was kept"
        );
        assert_eq!(known.len(), 1);
    }

    #[test]
    fn occurrences_replay_in_order_then_the_last_repeats() {
        let c = canonical("GET", "/v1/payment_intents/pi_1", "", "v1");
        let index = ReplayIndex::build(vec![
            loaded("b", c.clone(), 2, 200),
            loaded("a", c.clone(), 1, 200),
            loaded("c", c.clone(), 3, 200),
        ])
        .expect("index");
        let served: Vec<u32> = (0..5).map(|_| index.next(&c.key()).expect("hit").occurrence).collect();
        assert_eq!(served, [1, 2, 3, 3, 3]);
        index.reset();
        assert_eq!(index.next(&c.key()).expect("hit").occurrence, 1);
        let other = canonical("GET", "/v1/payment_intents/pi_9", "", "v1");
        let index = ReplayIndex::build(vec![loaded("a", c.clone(), 1, 200), loaded("z", other.clone(), 1, 200)])
            .expect("index");
        assert_eq!(index.unused(), ["a", "z"]);
        index.next(&c.key());
        assert_eq!(index.unused(), ["z"]);
        assert_eq!(index.get(&other.key(), 1).expect("get").file_name, "z");
        assert!(index.unused().is_empty());
        assert!(index.get(&other.key(), 2).is_none());
        assert!(index
            .next(&canonical("GET", "/v1/payment_intents/pi_2", "", "v1").key())
            .is_none());
    }

    #[test]
    fn a_typo_in_an_id_points_at_the_id_it_was_meant_to_be() {
        let ids = ["pi_RoDg8b9wsZpgsxT", "pi_Ab3kLm9QxZ01pVw", "pi_ZZx0c7Hq2Lr8nMe"];
        // File names sort against the right answer, so ties broken by name would fail.
        let index = ReplayIndex::build(
            ids.iter()
                .zip(["c", "b", "a"])
                .map(|(id, name)| {
                    loaded(
                        name,
                        canonical("GET", &format!("/v1/payment_intents/{id}"), "", "v1"),
                        1,
                        200,
                    )
                })
                .collect(),
        )
        .expect("index");
        for (id, name) in ids.iter().zip(["c", "b", "a"]) {
            let mut typo: Vec<char> = id.chars().collect();
            let last = typo.len() - 1;
            typo[last] = if typo[last] == 'Q' { 'R' } else { 'Q' };
            let probe: String = typo.into_iter().collect();
            let near = index
                .closest(&canonical("GET", &format!("/v1/payment_intents/{probe}"), "", "v1"))
                .expect("some");
            assert_eq!(near.file_name, name, "{probe} should point at {id}");
        }
        // The same holds for a parameter value.
        let index = ReplayIndex::build(vec![
            loaded(
                "a",
                canonical("POST", "/v1/payment_intents", "amount=2000&customer=cus_Q1x9", "v1"),
                1,
                200,
            ),
            loaded(
                "b",
                canonical("POST", "/v1/payment_intents", "amount=2000&customer=cus_Zk27", "v1"),
                1,
                200,
            ),
        ])
        .expect("index");
        let near = index
            .closest(&canonical(
                "POST",
                "/v1/payment_intents",
                "amount=2000&customer=cus_Zk28",
                "v1",
            ))
            .expect("some");
        assert_eq!(near.file_name, "b");
    }

    /// `n` ids like Stripe's (`pi_` and 14 letters and digits), the same every run.
    fn ids(n: usize) -> Vec<String> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                let tail: String = (0..14)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        ALPHABET[(state >> 33) as usize % ALPHABET.len()] as char
                    })
                    .collect();
                format!("pi_{tail}")
            })
            .collect()
    }

    /// What `closest` found before it searched by group: every recorded
    /// request compared.
    fn closest_of_all(index: &ReplayIndex, request: &CanonicalRequest) -> Option<String> {
        index
            .by_key
            .values()
            .filter_map(|seq| seq.recordings.first())
            .filter_map(|rec| Some((rec.canonical()?, rec)))
            .map(|(canonical, rec)| {
                let differences = differences(request, &canonical);
                (
                    (score(&differences), dissimilarity(&differences)),
                    rec.file_name.clone(),
                )
            })
            .min()
            .map(|(_, name)| name)
    }

    /// A library far larger than [`NEAR_MISS_CANDIDATES`]: 1,200 retrieves,
    /// one create and a confirm per tenth id, a few with another version.
    fn large_library() -> (Vec<String>, ReplayIndex) {
        let ids = ids(1_200);
        let mut loaded = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let version = if i % 500 == 7 { "v0" } else { "v1" };
            let path = format!("/v1/payment_intents/{id}");
            loaded.push(loaded_named(
                format!("retrieve-{id}"),
                canonical("GET", &path, "", version),
            ));
            if i % 10 == 0 {
                let confirm = canonical("POST", &format!("{path}/confirm"), "payment_method=pm_card_visa", "v1");
                loaded.push(loaded_named(format!("confirm-{id}"), confirm));
            }
        }
        let create = canonical("POST", "/v1/payment_intents", "amount=2000&currency=usd", "v1");
        loaded.push(loaded_named("create".into(), create));
        (ids, ReplayIndex::build(loaded).expect("index"))
    }

    fn loaded_named(name: String, canonical: CanonicalRequest) -> LoadedCassette {
        loaded(&name, canonical, 1, 200)
    }

    /// `id` with the character at `at` replaced.
    fn typo(id: &str, at: usize) -> String {
        id.char_indices()
            .map(|(i, c)| {
                if i == at {
                    if c == 'Q' {
                        'R'
                    } else {
                        'Q'
                    }
                } else {
                    c
                }
            })
            .collect()
    }

    #[test]
    fn in_a_large_library_a_typo_anywhere_in_an_id_still_points_at_it() {
        let (ids, index) = large_library();
        assert!(index.len() > 10 * NEAR_MISS_CANDIDATES);
        for id in ids.iter().step_by(41) {
            for at in [3, 9, id.len() - 1] {
                let probe = canonical("GET", &format!("/v1/payment_intents/{}", typo(id, at)), "", "v1");
                let near = index.closest(&probe).expect("some");
                assert_eq!(near.file_name, format!("retrieve-{id}"), "typo at {at} of {id}");
            }
        }
    }

    #[test]
    fn in_a_large_library_the_closest_is_the_one_comparing_every_recording_finds() {
        let (ids, index) = large_library();
        let mut probes = Vec::new();
        // Ids with a recorded confirm (every tenth), so that the closest
        // recording to a capture or an update is the confirm of the same
        // id, not one of hundreds tied on an unrelated id.
        for (i, id) in ids.iter().enumerate().step_by(250) {
            let path = format!("/v1/payment_intents/{id}");
            probes.push(canonical("GET", &path, "", "v2"));
            probes.push(canonical("GET", &path, "expand[]=customer", "v1"));
            probes.push(canonical(
                "GET",
                &format!("/v1/payment_intents/{}", typo(id, 5 + i % 9)),
                "",
                "v1",
            ));
            probes.push(canonical("POST", &format!("{path}/capture"), "", "v1"));
            probes.push(canonical(
                "POST",
                &format!("{path}/confirm"),
                "payment_method=pm_card_amex",
                "v1",
            ));
            probes.push(canonical("POST", &path, "description=x", "v1"));
        }
        probes.push(canonical(
            "POST",
            "/v1/payment_intents",
            "amount=2001&currency=usd",
            "v1",
        ));
        probes.push(canonical("GET", "/v1/payment_intents", "limit=3", "v1"));
        probes.push(canonical(
            "DELETE",
            &format!("/v1/payment_intents/{}", ids[42]),
            "",
            "v1",
        ));
        probes.push(canonical(
            "DELETE",
            &format!("/v1/payment_intents/{}", ids[43]),
            "expand[]=x",
            "v1",
        ));
        for probe in &probes {
            assert!(index.next(&probe.key()).is_none(), "{} must miss", probe.summary());
            assert_eq!(
                index.closest(probe).map(|n| n.file_name),
                closest_of_all(&index, probe),
                "{} {:?}",
                probe.summary(),
                probe.params
            );
        }
    }

    #[test]
    fn retries_are_kept_for_the_request_that_reuses_their_key() {
        let c = canonical("POST", "/v1/payment_intents", "amount=1&currency=usd", "v1");
        let mut cassettes = vec![
            loaded("one", c.clone(), 1, 200),
            loaded("two", c.clone(), 2, 200),
            loaded("three", c.clone(), 3, 200),
        ];
        cassettes[1].cassette.request.reuses_idempotency_key_of = Some("one".into());
        let index = ReplayIndex::build(cassettes).expect("index");
        let name = |r: Option<Arc<Recording>>| r.expect("some").file_name.clone();
        assert_eq!(name(index.next(&c.key())), "one");
        assert_eq!(
            name(index.next(&c.key())),
            "three",
            "the retry is skipped by a fresh request"
        );
        assert_eq!(name(index.next_reusing(&c.key(), "one")), "two");
        assert!(index.next_reusing(&c.key(), "one").is_none(), "used up");
        assert_eq!(name(index.next(&c.key())), "three", "then the last repeats");
        index.reset();
        assert_eq!(name(index.next_reusing(&c.key(), "one")), "two", "out of turn, first");
        assert_eq!(name(index.next(&c.key())), "one");
        assert_eq!(name(index.next(&c.key())), "three");
        assert!(index.unused().is_empty());
    }

    #[test]
    fn duplicate_occurrences_are_refused() {
        let c = canonical("GET", "/v1/payment_intents", "", "v1");
        let err = ReplayIndex::build(vec![loaded("a", c.clone(), 1, 200), loaded("b", c, 1, 200)]).expect_err("dup");
        assert!(err.to_string().contains("a and b"), "{err}");
    }

    #[test]
    fn near_miss_names_the_closest_and_the_difference() {
        let index = ReplayIndex::build(vec![
            loaded(
                "create",
                canonical("POST", "/v1/payment_intents", "amount=1000&currency=usd", "v1"),
                1,
                200,
            ),
            loaded("list", canonical("GET", "/v1/payment_intents", "limit=3", "v1"), 1, 200),
            loaded(
                "confirm",
                canonical("POST", "/v1/payment_intents/pi_1/confirm", "", "v1"),
                1,
                200,
            ),
        ])
        .expect("index");
        let miss = index
            .closest(&canonical(
                "POST",
                "/v1/payment_intents",
                "amount=2000&currency=usd&description=x",
                "v2",
            ))
            .expect("some recording");
        assert_eq!(miss.file_name, "create");
        assert_eq!(
            miss.describe(),
            "create (POST /v1/payment_intents), which differs in Stripe-Version: v2 ≠ v1; amount: 2000 ≠ 1000; description: sent x, not in the recording"
        );
        let other_id = index
            .closest(&canonical("POST", "/v1/payment_intents/pi_2/confirm", "", "v1"))
            .expect("some");
        assert_eq!(other_id.file_name, "confirm");
        assert_eq!(
            other_id.differences,
            vec![Difference::Path {
                sent: "/v1/payment_intents/pi_2/confirm".into(),
                recorded: "/v1/payment_intents/pi_1/confirm".into()
            }]
        );
        assert!(ReplayIndex::default()
            .closest(&canonical("GET", "/", "", "v1"))
            .is_none());
    }
}
