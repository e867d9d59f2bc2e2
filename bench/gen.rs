//! Generates a cassette library of N interactions for the scale benchmark:
//! copies of a template cassette (a ~2 KB retrieve), each for its own
//! PaymentIntent id, written the way `record` writes them (sealed, atomic).
//!
//! `cargo run --release --example bench-gen -- TEMPLATE.json OUT_DIR N`

use stripe_vcr::cassette::format::{Cassette, ResponseBody};
use stripe_vcr::cassette::key::file_name;
use stripe_vcr::cassette::seal::seal;
use stripe_vcr::cassette::store::CassetteStore;
use stripe_vcr::stripe::redact::Redactor;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, template, out, n] = args.as_slice() else {
        eprintln!("usage: bench-gen TEMPLATE.json OUT_DIR N");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let template = Cassette::from_slice(&std::fs::read(template).expect("read template")).expect("template parses");
    let store = CassetteStore::new(out);
    for i in 0..n {
        let id = format!("pi_{i:024}");
        let mut c = template.clone();
        c.request.canonical.path = format!("/v1/payment_intents/{id}");
        if let ResponseBody::Body(body) = &mut c.response.body {
            body["id"] = id.clone().into();
        }
        let name = file_name(&c.endpoint, &c.request.canonical.key(), c.occurrence);
        let sealed = seal(Redactor::standard(), &c).expect("seal");
        // Left unsynced: a generated library can be generated again.
        let _unsynced = store.write(&name, &sealed).expect("write");
    }
    println!("wrote {n} cassettes to {out}");
}
