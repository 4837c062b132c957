//! Push API bodies sent as `application/x-ndjson`: one record per line.
#![no_main]

use gatelog_core::formats::{Format, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    gatelog_fuzz_checks(parse(Format::Ndjson, body));
});

include!("checks.rs");
