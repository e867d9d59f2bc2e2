//! Loads a cassette library into one replay index per set, reading and
//! parsing the files on every available core (a 100k-cassette library is
//! mostly JSON parsing).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cassette::index::{IndexBuilder, IndexError, ReplayIndex};
use crate::cassette::set::CassetteSet;
use crate::cassette::store::{read_cassette, CassetteStore, StoreError, Walk};

/// Most threads used for loading.
const MAX_THREADS: usize = 8;

/// Why a library could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("a cassette-loading thread panicked")]
    Panicked,
}

fn build(part: &[(CassetteSet, PathBuf)]) -> Result<BTreeMap<CassetteSet, IndexBuilder>, LoadError> {
    let mut builders: BTreeMap<CassetteSet, IndexBuilder> = BTreeMap::new();
    for (set, path) in part {
        let (file_name, cassette) = read_cassette(path)?;
        builders.entry(set.clone()).or_default().add(file_name, cassette)?;
    }
    Ok(builders)
}

/// Every set of `store` (the directory itself always included), indexed.
/// The first unreadable or malformed file, in file order, stops the load.
pub fn load_indexes(store: &CassetteStore) -> Result<BTreeMap<CassetteSet, ReplayIndex>, LoadError> {
    index_walk(&store.walk()?)
}

/// Every set the walk found (the directory itself always included), indexed.
pub fn index_walk(walk: &Walk) -> Result<BTreeMap<CassetteSet, ReplayIndex>, LoadError> {
    let paths = &walk.cassettes;
    let threads = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, MAX_THREADS);
    let chunk = paths.len().div_ceil(threads).max(1);
    let partials: Vec<Result<BTreeMap<CassetteSet, IndexBuilder>, LoadError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| scope.spawn(move || build(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(LoadError::Panicked)))
            .collect()
    });
    let mut merged: BTreeMap<CassetteSet, IndexBuilder> = BTreeMap::new();
    merged.insert(CassetteSet::root(), IndexBuilder::default());
    for partial in partials {
        for (set, builder) in partial? {
            merged.entry(set).or_default().merge(builder);
        }
    }
    merged
        .into_iter()
        .map(|(set, builder)| Ok((set, builder.finish()?)))
        .collect()
}
