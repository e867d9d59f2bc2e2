//! The parameter decoder: any bytes, as a form body / query string or as a
//! JSON body, decode to a tree or a `DecodeError`, never a panic; and a tree
//! that decoded flattens and re-keys without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stripe_vcr::stripe::params::Params;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::from_form(data, "body") {
        let _ = params.flatten();
    }
    if let Ok(params) = Params::from_json(data) {
        let _ = params.flatten();
    }
});
