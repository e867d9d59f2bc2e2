//! The cassette directory on disk: atomic writes, durable syncs and loading.
//!
//! A cassette is written whole to a temporary file in the same directory and
//! renamed over its final name, so readers, and a proxy that is killed, see
//! either the old file, the whole new one, or an ignored temporary: never half
//! a cassette. Concurrent writers use distinct temporary names, so they never
//! clobber each other's partial output. Putting it on stable storage (the
//! file's data, then the directory's new name) is a second step, [`sync`],
//! which record mode runs off the request path (`cassette::flush`).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::cassette::event::{is_event_file, EventCassette};
use crate::cassette::format::{Cassette, FormatError};
use crate::cassette::seal::Redacted;
use crate::cassette::set::CassetteSet;

/// Suffix of in-progress writes; such files are never loaded.
const TEMP_SUFFIX: &str = ".tmp";

/// Why the cassette directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cassette directory {} does not exist (record a session first, or pass --cassettes DIR)", .0.display())]
    MissingDir(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: FormatError,
    },
    #[error("{}: not a webhook event cassette: {source}", path.display())]
    InvalidEvent {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Reads and parses one event cassette; the error names the file.
pub fn read_event(path: &Path) -> Result<EventCassette, StoreError> {
    let bytes = fs::read(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::InvalidEvent {
        path: path.to_path_buf(),
        source,
    })
}

/// A cassette read from disk, with the file name it was found under.
#[derive(Debug, Clone)]
pub struct LoadedCassette {
    pub file_name: String,
    pub cassette: Cassette,
}

/// A directory of cassettes.
#[derive(Debug, Clone)]
pub struct CassetteStore {
    dir: PathBuf,
}

/// Reads and parses one cassette file; the error names the file.
pub fn read_cassette(path: &Path) -> Result<(String, Cassette), StoreError> {
    let bytes = fs::read(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let cassette = Cassette::from_slice(&bytes).map_err(|source| StoreError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((file_name, cassette))
}

/// A cassette complete under its final name whose bytes may still be only
/// in the page cache: it survives the proxy being killed, not a power cut,
/// until [`sync`] has run on it.
#[derive(Debug)]
#[must_use = "a written cassette is not on stable storage until it is synced"]
pub struct Written {
    path: PathBuf,
}

impl Written {
    /// Where it was written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs this one cassette (see [`sync`]); returns its path.
    pub fn sync(self) -> Result<PathBuf, StoreError> {
        match sync(std::slice::from_ref(&self)).pop() {
            Some((_, error)) => Err(error),
            None => Ok(self.path),
        }
    }
}

/// Puts written cassettes on stable storage: each file's data, then each of
/// their directories once, so their names survive a power cut too. Returns
/// the cassettes that could not be synced, each with why.
pub fn sync(batch: &[Written]) -> Vec<(PathBuf, StoreError)> {
    let mut failed = Vec::new();
    let mut dirs: BTreeMap<&Path, Vec<&Path>> = BTreeMap::new();
    for written in batch {
        let path = written.path.as_path();
        match File::open(path).and_then(|file| file.sync_data()) {
            Ok(()) => dirs
                .entry(path.parent().unwrap_or(Path::new(".")))
                .or_default()
                .push(path),
            Err(source) => failed.push((
                path.to_path_buf(),
                StoreError::Io {
                    path: path.to_path_buf(),
                    source,
                },
            )),
        }
    }
    for (dir, files) in dirs {
        if let Err(source) = File::open(dir).and_then(|d| d.sync_all()) {
            // Every cassette named in this directory shares the failure.
            failed.extend(files.into_iter().map(|file| {
                let source = io::Error::new(source.kind(), source.to_string());
                (
                    file.to_path_buf(),
                    StoreError::Io {
                        path: dir.to_path_buf(),
                        source,
                    },
                )
            }));
        }
    }
    failed
}

/// Where a file or directory is, whatever name it was reached by: its
/// device and inode. Two directory links to one place (`a -> .`, `b -> .`)
/// name one directory, and a hard or symbolic link to a cassette names one
/// file; the walk enters and reads each only once.
type Identity = (u64, u64);

fn identity(metadata: &fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

/// What a directory entry is, for the walk. The type comes from the
/// directory listing itself, and so does a plain file's inode, so a
/// 100k-cassette library costs no `stat` per file; only symbolic links are
/// followed to what they name.
enum Entry {
    File(Identity),
    Dir,
    Other,
}

fn entry_kind(entry: &fs::DirEntry, dev: u64) -> Entry {
    use std::os::unix::fs::DirEntryExt;
    let of = |t: fs::FileType, id: Identity| {
        if t.is_file() {
            Entry::File(id)
        } else if t.is_dir() {
            Entry::Dir
        } else {
            Entry::Other
        }
    };
    match entry.file_type() {
        Ok(t) if t.is_symlink() => fs::metadata(entry.path()).map_or(Entry::Other, |m| of(m.file_type(), identity(&m))),
        Ok(t) => of(t, (dev, entry.ino())),
        Err(_) => Entry::Other,
    }
}

/// A directory the walk did not enter because it had already read it under
/// another name: a link back to a directory above it (`a -> .`, which would
/// otherwise be walked forever), or a second link to the same set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The directory as it was reached this time.
    pub path: PathBuf,
    /// Where it was read first.
    pub same_as: PathBuf,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is the same directory as {} (a link to it): its cassettes are read once, as those of {}",
            self.path.display(),
            self.same_as.display(),
            self.same_as.display()
        )
    }
}

/// Everything the walk of a cassette directory found.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Every cassette file of every set, each file once: the directory's own
    /// first, then each set's (sets in name order, depth first), files in
    /// name order within each.
    pub cassettes: Vec<(CassetteSet, PathBuf)>,
    /// Every webhook event cassette (`webhook-*.json`), in the same order.
    pub events: Vec<(CassetteSet, PathBuf)>,
    /// The directories read (the cassette directory and every set's).
    pub dirs: Vec<PathBuf>,
    /// Directories not entered because they had already been read.
    pub skipped: Vec<Skipped>,
}

impl Walk {
    /// Reads every event cassette the walk found, by set, each set's in
    /// recorded order (`sequence`). The one reader of event files: replay,
    /// `webhooks send`, `audit`, `diff` and `prune` all go through it.
    pub fn read_events(&self) -> Result<BTreeMap<CassetteSet, Vec<EventCassette>>, StoreError> {
        let mut sets: BTreeMap<CassetteSet, Vec<EventCassette>> = BTreeMap::new();
        for (set, path) in &self.events {
            sets.entry(set.clone()).or_default().push(read_event(path)?);
        }
        for events in sets.values_mut() {
            events.sort_by_key(|e| e.sequence);
        }
        Ok(sets)
    }

    /// How many cassettes each set holds (sets holding none left out).
    pub fn per_set(&self) -> BTreeMap<&CassetteSet, usize> {
        let mut counts = BTreeMap::new();
        for (set, _) in &self.cassettes {
            *counts.entry(set).or_default() += 1;
        }
        counts
    }

    /// Where the cassettes are, when some are in sets: `3 at the top,
    /// checkout 5, checkout/eu 2` (`None` when all are at the top).
    pub fn sets_summary(&self) -> Option<String> {
        let per_set = self.per_set();
        if per_set.keys().all(|set| set.name().is_empty()) {
            return None;
        }
        let parts: Vec<String> = per_set
            .iter()
            .map(|(set, n)| match set.name() {
                "" => format!("{n} at the top"),
                name => format!("{name} {n}"),
            })
            .collect();
        Some(parts.join(", "))
    }
}

impl CassetteStore {
    /// A store rooted at `dir` (not touched until used).
    pub fn new(dir: impl Into<PathBuf>) -> CassetteStore {
        CassetteStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one cassette atomically under `file_name`, replacing any file
    /// of that name. It is complete and visible when this returns, but on
    /// stable storage only once [`sync`] has run on it. Blocking: call it
    /// from `spawn_blocking`.
    pub fn write(&self, file_name: &str, cassette: &Redacted<Cassette>) -> Result<Written, StoreError> {
        self.write_bytes(file_name, &cassette.get().to_file_bytes())
    }

    /// Writes one event cassette, like [`CassetteStore::write`].
    pub fn write_event(&self, event: &Redacted<EventCassette>) -> Result<Written, StoreError> {
        self.write_bytes(&event.get().file_name(), &event.get().to_file_bytes())
    }

    fn write_bytes(&self, file_name: &str, bytes: &[u8]) -> Result<Written, StoreError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let final_path = self.dir.join(file_name);
        // A hidden temporary file beside the final one (same file system,
        // so the rename is atomic), removed by tempfile if anything fails.
        let mut temp = tempfile::Builder::new()
            .prefix(&format!(".{file_name}."))
            .suffix(TEMP_SUFFIX)
            .permissions(fs::Permissions::from_mode(0o644))
            .tempfile_in(&self.dir)
            .map_err(io(&self.dir))?;
        temp.write_all(bytes).map_err(io(temp.path()))?;
        temp.persist(&final_path).map_err(|e| io(&final_path)(e.error))?;
        Ok(Written { path: final_path })
    }

    /// The one walk of a cassette directory: the directory itself and every
    /// set below it (non-hidden subdirectories with valid set names, links
    /// followed), each directory and each file read once however many names
    /// lead to it, so links back up the tree (`a -> .`) end the walk instead
    /// of looping. Every command that reads cassettes goes through here.
    /// Each directory not entered is logged as a warning (and listed in
    /// [`Walk::skipped`]).
    pub fn walk(&self) -> Result<Walk, StoreError> {
        let walk = self.walk_quietly()?;
        for skipped in &walk.skipped {
            tracing::warn!("{skipped}");
        }
        Ok(walk)
    }

    /// [`CassetteStore::walk`] without the warnings (for a walk that another
    /// one follows at once).
    fn walk_quietly(&self) -> Result<Walk, StoreError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        let root = fs::metadata(&self.dir)
            .ok()
            .filter(fs::Metadata::is_dir)
            .ok_or_else(|| StoreError::MissingDir(self.dir.clone()))?;
        let mut walk = Walk::default();
        let mut dirs: std::collections::HashMap<Identity, PathBuf> = std::collections::HashMap::new();
        let mut files: std::collections::HashSet<Identity> = std::collections::HashSet::new();
        dirs.insert(identity(&root), self.dir.clone());
        let mut pending = vec![(CassetteSet::root(), self.dir.clone(), identity(&root).0)];
        while let Some((set, dir, dev)) = pending.pop() {
            let mut found: Vec<(std::ffi::OsString, PathBuf, Identity)> = Vec::new();
            let mut below: Vec<(String, PathBuf)> = Vec::new();
            for entry in fs::read_dir(&dir).map_err(io(&dir))?.filter_map(Result::ok) {
                let name = entry.file_name();
                let bytes = name.as_encoded_bytes();
                if bytes.starts_with(b".") {
                    continue;
                }
                match entry_kind(&entry, dev) {
                    Entry::File(id) if bytes.ends_with(b".json") => found.push((name, entry.path(), id)),
                    Entry::Dir => below.push((name.to_string_lossy().into_owned(), entry.path())),
                    Entry::File(_) | Entry::Other => {}
                }
            }
            // All in one directory: ordering by file name is ordering by
            // path, without comparing the shared leading components again.
            found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (name, path, id) in found {
                if !files.insert(id) {
                    continue;
                }
                if is_event_file(&name.to_string_lossy()) {
                    walk.events.push((set.clone(), path));
                } else {
                    walk.cassettes.push((set.clone(), path));
                }
            }
            walk.dirs.push(dir);
            // Claimed in name order (the first name of a directory wins),
            // then pushed reversed: popped from the end, sets are walked in
            // name order.
            below.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let mut children = Vec::new();
            for (name, path) in below {
                let qualified = set.qualify(&name);
                let Ok(child) = CassetteSet::parse(&qualified) else {
                    continue;
                };
                let Ok(metadata) = fs::metadata(&path) else {
                    continue;
                };
                match dirs.entry(identity(&metadata)) {
                    std::collections::hash_map::Entry::Occupied(first) => {
                        walk.skipped.push(Skipped {
                            path,
                            same_as: first.get().clone(),
                        });
                    }
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(path.clone());
                        children.push((child, path, identity(&metadata).0));
                    }
                }
            }
            pending.extend(children.into_iter().rev());
        }
        Ok(walk)
    }

    /// Every cassette file of every set, each once: (set, path), in
    /// [`CassetteStore::walk`] order.
    pub fn all_cassette_paths(&self) -> Result<Vec<(CassetteSet, PathBuf)>, StoreError> {
        Ok(self.walk()?.cassettes)
    }

    /// Loads every set: the directory itself (always present, perhaps
    /// empty) and each set holding cassettes, keyed by set name, files in
    /// name order. The first unreadable or malformed file stops the load
    /// with its path and the parser's line and column.
    pub fn load_sets(&self) -> Result<BTreeMap<CassetteSet, Vec<LoadedCassette>>, StoreError> {
        let mut sets: BTreeMap<CassetteSet, Vec<LoadedCassette>> = BTreeMap::new();
        sets.insert(CassetteSet::root(), Vec::new());
        self.visit_sets(|set, file_name, cassette| {
            sets.entry(set.clone())
                .or_default()
                .push(LoadedCassette { file_name, cassette });
            Ok::<_, StoreError>(())
        })?;
        Ok(sets)
    }

    /// Hands every cassette of every set to `f` as it is read (in
    /// [`CassetteStore::walk`] order), so a large library never sits in
    /// memory twice.
    pub fn visit_sets<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(&CassetteSet, String, Cassette) -> Result<(), E>,
    ) -> Result<(), E> {
        for (set, path) in self.walk()?.cassettes {
            let (file_name, cassette) = read_cassette(&path)?;
            f(&set, file_name, cassette)?;
        }
        Ok(())
    }

    /// Deletes temporary files left behind by a crashed writer, in the
    /// directory and every set below it; returns how many were removed.
    /// (Quietly: loading the cassettes walks again and warns.)
    pub fn clean_temp_files_everywhere(&self) -> usize {
        self.walk_quietly().map_or(0, |walk| {
            walk.dirs
                .into_iter()
                .map(|dir| CassetteStore::new(dir).clean_temp_files())
                .sum()
        })
    }

    /// Deletes temporary files left behind by a crashed writer in this
    /// directory; returns how many were removed.
    pub fn clean_temp_files(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
            })
            .filter(|e| fs::remove_file(e.path()).is_ok())
            .count()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cassette::format::{
        BodyEncoding, RecordedRequest, RecordedResponse, ResponseBody, ResponseHeaders, FORMAT_VERSION,
    };
    use crate::cassette::key::CanonicalRequest;
    use crate::stripe::params::Params;

    /// A sealed list cassette, occurrence `n`: a fixture for the store's tests
    /// and its neighbours'.
    pub(crate) fn cassette(n: u32) -> Redacted<Cassette> {
        let c = Cassette {
            format_version: FORMAT_VERSION,
            recorded_at: "2026-11-22T15:04:05Z".into(),
            endpoint: "list".into(),
            occurrence: n,
            request: RecordedRequest {
                canonical: CanonicalRequest::new(
                    crate::stripe::redact::Redactor::standard(),
                    "GET",
                    "/v1/payment_intents",
                    &Params::default(),
                    |_| None,
                ),
                body_encoding: BodyEncoding::None,
                user_agent: None,
                reuses_idempotency_key_of: None,
            },
            response: RecordedResponse {
                status: 200,
                headers: ResponseHeaders::default(),
                body: ResponseBody::Body(serde_json::json!({"n": n})),
            },
        };
        crate::cassette::seal::seal(crate::stripe::redact::Redactor::standard(), &c).expect("seal")
    }

    #[test]
    fn writes_atomically_and_loads_sorted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CassetteStore::new(dir.path().join("sub"));
        let written = [
            store.write("b.json", &cassette(2)).expect("write b"),
            store.write("a.json", &cassette(1)).expect("write a"),
            store.write("a.json", &cassette(3)).expect("overwrite a"),
        ];
        assert!(sync(&written).is_empty(), "all three sync");
        // A leftover temporary from a crash is ignored, then cleaned.
        fs::write(store.dir().join(".c.json.1.1.tmp"), b"{partial").expect("temp");
        let loaded = store
            .load_sets()
            .expect("loads")
            .remove(&CassetteSet::root())
            .expect("root");
        let names: Vec<_> = loaded.iter().map(|l| l.file_name.as_str()).collect();
        assert_eq!(names, ["a.json", "b.json"]);
        assert_eq!(loaded[0].cassette.occurrence, 3);
        assert_eq!(store.clean_temp_files(), 1);
        assert_eq!(fs::read_dir(store.dir()).expect("dir").count(), 2);
    }

    #[test]
    fn a_written_cassette_is_complete_before_its_sync_and_a_vanished_one_fails_to_sync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CassetteStore::new(dir.path());
        let kept = store.write("kept.json", &cassette(1)).expect("write kept");
        let gone = store.write("gone.json", &cassette(2)).expect("write gone");
        // Readable in full before any sync: what a killed proxy leaves.
        let (_, read) = read_cassette(kept.path()).expect("complete before sync");
        assert_eq!(read.occurrence, 1);
        fs::remove_file(gone.path()).expect("remove");
        let failed = sync(&[kept, gone]);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].0, dir.path().join("gone.json"));
        assert!(failed[0].1.to_string().contains("gone.json"), "{}", failed[0].1);
    }

    #[test]
    fn file_types_come_from_the_listing_and_links_are_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let root = CassetteStore::new(dir.path());
        root.write("a.json", &cassette(1))
            .and_then(Written::sync)
            .expect("write a");
        CassetteStore::new(elsewhere.path())
            .write("linked.json", &cassette(2))
            .and_then(Written::sync)
            .expect("write linked");
        CassetteStore::new(elsewhere.path().join("shared"))
            .write("s.json", &cassette(3))
            .and_then(Written::sync)
            .expect("write s");
        std::os::unix::fs::symlink(elsewhere.path().join("linked.json"), dir.path().join("b.json")).expect("link");
        std::os::unix::fs::symlink(elsewhere.path().join("shared"), dir.path().join("team")).expect("link");
        std::os::unix::fs::symlink(elsewhere.path().join("gone.json"), dir.path().join("c.json")).expect("link");
        fs::create_dir(dir.path().join("dir.json")).expect("a directory named like a cassette");
        let all = listed(&root);
        let expected: Vec<(String, String)> = [("", "a.json"), ("", "b.json"), ("team", "s.json")]
            .iter()
            .map(|(s, f)| ((*s).to_owned(), (*f).to_owned()))
            .collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn malformed_file_names_path_and_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CassetteStore::new(dir.path());
        fs::write(dir.path().join("bad.json"), b"{\n  \"format_version\": 1,\n  oops\n}").expect("write");
        let err = store.load_sets().expect_err("malformed");
        let msg = err.to_string();
        assert!(msg.contains("bad.json") && msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn missing_directory_is_explained() {
        let err = CassetteStore::new("/nonexistent/stripe-vcr")
            .load_sets()
            .expect_err("missing");
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    /// (set, file name) of every cassette the walk finds, in its order.
    fn listed(store: &CassetteStore) -> Vec<(String, String)> {
        store
            .all_cassette_paths()
            .expect("walk")
            .into_iter()
            .map(|(set, p)| {
                (
                    set.name().to_owned(),
                    p.file_name().expect("name").to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(s, f)| ((*s).to_owned(), (*f).to_owned()))
            .collect()
    }

    #[test]
    fn links_back_up_the_tree_end_the_walk_and_every_file_is_read_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = CassetteStore::new(dir.path());
        for name in ["a.json", "b.json"] {
            root.write(name, &cassette(1)).and_then(Written::sync).expect("write");
        }
        CassetteStore::new(dir.path().join("checkout"))
            .write("c.json", &cassette(1))
            .and_then(Written::sync)
            .expect("write");
        // Two links to the directory itself: without cycle detection the
        // walk never ends (a/, a/a/, a/b/, b/a/ ...); with one, every
        // cassette is read twice. A link inside a set back to the top, and a
        // second name for a set and for a file, are read once too.
        std::os::unix::fs::symlink(".", dir.path().join("a")).expect("link");
        std::os::unix::fs::symlink(".", dir.path().join("b")).expect("link");
        std::os::unix::fs::symlink("..", dir.path().join("checkout/up")).expect("link");
        std::os::unix::fs::symlink("checkout", dir.path().join("z-checkout")).expect("link");
        std::os::unix::fs::symlink("a.json", dir.path().join("same-as-a.json")).expect("link");
        fs::hard_link(dir.path().join("b.json"), dir.path().join("hard-b.json")).expect("hard link");
        let walk = root.walk().expect("walk ends");
        assert_eq!(
            listed(&root),
            pairs(&[("", "a.json"), ("", "b.json"), ("checkout", "c.json")])
        );
        let mut skipped: Vec<String> = walk
            .skipped
            .iter()
            .map(|s| {
                let shown = s.path.strip_prefix(dir.path()).expect("inside");
                assert!(s.to_string().contains("is the same directory as"), "{s}");
                shown.display().to_string()
            })
            .collect();
        skipped.sort();
        assert_eq!(skipped, ["a", "b", "checkout/up", "z-checkout"]);
        assert_eq!(walk.dirs.len(), 2, "{:?}", walk.dirs);
        let per_set: Vec<(String, usize)> = walk
            .per_set()
            .into_iter()
            .map(|(s, n)| (s.name().to_owned(), n))
            .collect();
        assert_eq!(per_set, [("".to_owned(), 2), ("checkout".to_owned(), 1)]);
        let loaded = root.load_sets().expect("loads");
        assert_eq!(loaded.values().map(Vec::len).sum::<usize>(), 3);
    }

    #[test]
    fn sets_are_walked_in_name_order_after_the_directory_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (set, file) in [
            ("b", "2.json"),
            ("a/deep", "4.json"),
            ("", "9.json"),
            ("a", "3.json"),
            ("", "1.json"),
        ] {
            CassetteStore::new(dir.path().join(set))
                .write(file, &cassette(1))
                .and_then(Written::sync)
                .expect("write");
        }
        fs::create_dir(dir.path().join("not a set")).expect("dir");
        fs::write(dir.path().join("not a set/x.json"), b"{}").expect("write");
        assert_eq!(
            listed(&CassetteStore::new(dir.path())),
            pairs(&[
                ("", "1.json"),
                ("", "9.json"),
                ("a", "3.json"),
                ("a/deep", "4.json"),
                ("b", "2.json")
            ])
        );
    }
}
