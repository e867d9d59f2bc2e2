//! The cassette loader: any bytes load to a cassette or a `FormatError`,
//! never a panic; a cassette that loaded can be indexed for replay and
//! written back out, and what is written loads again to the same cassette
//! (response headers compared per name: a hand-edited file that repeats a
//! header name as separate keys is written with that name's values grouped,
//! which keeps each name's values in order).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stripe_vcr::cassette::format::{Cassette, ResponseHeaders};
use stripe_vcr::cassette::index::ReplayIndex;
use stripe_vcr::cassette::store::LoadedCassette;

fn by_name(headers: &ResponseHeaders) -> Vec<(String, String)> {
    let mut sorted = headers.0.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
}

fuzz_target!(|data: &[u8]| {
    let Ok(cassette) = Cassette::from_slice(data) else {
        return;
    };
    let bytes = cassette.to_file_bytes();
    let reloaded = Cassette::from_slice(&bytes).expect("a written cassette loads again");
    assert_eq!(reloaded.request, cassette.request, "the request survives write then load");
    assert_eq!(reloaded.response.status, cassette.response.status);
    assert_eq!(reloaded.response.body, cassette.response.body, "the body survives write then load");
    assert_eq!(by_name(&reloaded.response.headers), by_name(&cassette.response.headers));
    assert_eq!(reloaded.to_file_bytes(), bytes, "writing a loaded cassette is stable");
    let _ = cassette.response.headers.to_header_map();
    let _ = cassette.response.body.to_bytes();
    let _ = ReplayIndex::build(vec![LoadedCassette {
        file_name: "fuzz.json".to_owned(),
        cassette,
    }]);
});
