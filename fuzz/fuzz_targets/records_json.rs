//! Push API bodies sent as `application/json`: one record or an array.
#![no_main]

use gatelog_core::formats::{Format, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    gatelog_fuzz_checks(parse(Format::Json, body));
});

include!("checks.rs");
