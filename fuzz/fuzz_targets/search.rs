//! The search-query parser: any string parses to a query or a `SearchError`,
//! never a panic, and rendering the error never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &str| {
    match stripe_vcr::stripe::validate::search::parse(query) {
        Ok(parsed) => assert!(!parsed.clauses.is_empty(), "a parsed query has clauses"),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
