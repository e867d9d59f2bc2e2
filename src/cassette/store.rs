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
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cassette::format::{Cassette, FormatError};
use crate::cassette::redact::Redacted;
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

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

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

/// Whether a directory entry is a file (or directory, per `kind`). The type
/// comes from the directory listing itself, so a 100k-cassette library costs
/// no `stat` per file; only symbolic links are followed to what they name.
fn entry_is(entry: &fs::DirEntry, kind: fn(&fs::FileType) -> bool) -> bool {
    match entry.file_type() {
        Ok(t) if t.is_symlink() => fs::metadata(entry.path()).is_ok_and(|m| kind(&m.file_type())),
        Ok(t) => kind(&t),
        Err(_) => false,
    }
}

/// The sets directly below `set` (at `dir`): non-hidden subdirectories with valid names.
fn subsets(set: &CassetteSet, dir: &Path) -> Result<Vec<(CassetteSet, PathBuf)>, StoreError> {
    let entries = fs::read_dir(dir).map_err(|source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(entries
        .filter_map(Result::ok)
        .filter(|e| entry_is(e, fs::FileType::is_dir))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return None;
            }
            let child = if set.name().is_empty() {
                name
            } else {
                format!("{}/{name}", set.name())
            };
            CassetteSet::parse(&child).ok().map(|c| (c, e.path()))
        })
        .collect())
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
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let final_path = self.dir.join(file_name);
        let temp_path = self.dir.join(format!(
            ".{file_name}.{}.{}{TEMP_SUFFIX}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp_path)
                .map_err(io(&temp_path))?;
            file.write_all(&cassette.get().to_file_bytes())
                .map_err(io(&temp_path))?;
            fs::rename(&temp_path, &final_path).map_err(io(&final_path))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp_path);
        }
        result.map(|()| Written { path: final_path })
    }

    /// Loads every `*.json` cassette in the directory, sorted by file name.
    /// The first unreadable or malformed file stops the load with its path
    /// and the parser's line and column.
    pub fn load_all(&self) -> Result<Vec<LoadedCassette>, StoreError> {
        let mut out = Vec::new();
        self.visit(|file_name, cassette| {
            out.push(LoadedCassette { file_name, cassette });
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// Hands each cassette of the directory (not its sets) to `f` as it is
    /// read, so a large library never sits in memory twice.
    pub fn visit<E: From<StoreError>>(&self, mut f: impl FnMut(String, Cassette) -> Result<(), E>) -> Result<(), E> {
        if !self.dir.is_dir() {
            return Err(StoreError::MissingDir(self.dir.clone()).into());
        }
        for path in self.cassette_paths()? {
            let (file_name, cassette) = read_cassette(&path)?;
            f(file_name, cassette)?;
        }
        Ok(())
    }

    /// Every cassette file of every set: (set, path), sets in no particular order.
    pub fn all_cassette_paths(&self) -> Result<Vec<(CassetteSet, PathBuf)>, StoreError> {
        if !self.dir.is_dir() {
            return Err(StoreError::MissingDir(self.dir.clone()));
        }
        let mut out = Vec::new();
        let mut pending = vec![(CassetteSet::root(), self.dir.clone())];
        while let Some((set, dir)) = pending.pop() {
            out.extend(
                CassetteStore::new(&dir)
                    .cassette_paths()?
                    .into_iter()
                    .map(|p| (set.clone(), p)),
            );
            pending.extend(subsets(&set, &dir)?);
        }
        Ok(out)
    }

    /// Loads every set: the directory itself and each subdirectory holding
    /// cassettes (recursively), keyed by set name. Hidden directories are skipped.
    pub fn load_sets(&self) -> Result<std::collections::BTreeMap<CassetteSet, Vec<LoadedCassette>>, StoreError> {
        let mut sets: std::collections::BTreeMap<CassetteSet, Vec<LoadedCassette>> = std::collections::BTreeMap::new();
        sets.insert(CassetteSet::root(), Vec::new());
        self.visit_sets(|set, file_name, cassette| {
            sets.entry(set.clone())
                .or_default()
                .push(LoadedCassette { file_name, cassette });
            Ok::<_, StoreError>(())
        })?;
        Ok(sets)
    }

    /// Hands every cassette of every set to `f` as it is read.
    pub fn visit_sets<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(&CassetteSet, String, Cassette) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.dir.is_dir() {
            return Err(StoreError::MissingDir(self.dir.clone()).into());
        }
        let mut pending = vec![(CassetteSet::root(), self.dir.clone())];
        while let Some((set, dir)) = pending.pop() {
            CassetteStore::new(&dir).visit(|name, cassette| f(&set, name, cassette))?;
            pending.extend(subsets(&set, &dir)?);
        }
        Ok(())
    }

    /// Paths of the cassette files, sorted; temporaries and hidden files are skipped.
    pub fn cassette_paths(&self) -> Result<Vec<PathBuf>, StoreError> {
        let entries = fs::read_dir(&self.dir).map_err(|source| StoreError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.as_encoded_bytes();
                name.ends_with(b".json") && !name.starts_with(b".") && entry_is(e, fs::FileType::is_file)
            })
            .map(|e| e.path())
            .collect();
        // All in one directory: ordering by file name is ordering by path,
        // without comparing the shared leading components again.
        paths.sort_unstable_by(|a, b| a.file_name().cmp(&b.file_name()));
        Ok(paths)
    }

    /// Deletes temporary files left behind by a crashed writer, in the
    /// directory and every set below it; returns how many were removed.
    pub fn clean_temp_files_everywhere(&self) -> usize {
        let mut removed = 0;
        let mut pending = vec![self.dir.clone()];
        while let Some(dir) = pending.pop() {
            removed += CassetteStore::new(&dir).clean_temp_files();
            if let Ok(entries) = fs::read_dir(&dir) {
                for entry in entries.filter_map(Result::ok) {
                    let hidden = entry.file_name().to_string_lossy().starts_with('.');
                    if !hidden && entry.file_type().is_ok_and(|t| t.is_dir()) {
                        pending.push(entry.path());
                    }
                }
            }
        }
        removed
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
                    crate::cassette::redact::Redactor::standard(),
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
        crate::cassette::redact::Redactor::standard().seal(&c).expect("seal")
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
        let loaded = store.load_all().expect("loads");
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
        let names = |paths: Vec<PathBuf>| -> Vec<String> {
            paths
                .iter()
                .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(root.cassette_paths().expect("paths")), ["a.json", "b.json"]);
        let mut all: Vec<(String, String)> = root
            .all_cassette_paths()
            .expect("all")
            .into_iter()
            .map(|(set, p)| {
                (
                    set.name().to_owned(),
                    p.file_name().expect("name").to_string_lossy().into_owned(),
                )
            })
            .collect();
        all.sort();
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
        let err = store.load_all().expect_err("malformed");
        let msg = err.to_string();
        assert!(msg.contains("bad.json") && msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn missing_directory_is_explained() {
        let err = CassetteStore::new("/nonexistent/stripe-vcr")
            .load_all()
            .expect_err("missing");
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
