//! Push API bodies sent as `text/csv`: the first byte picks the record kind (the
//! `kind` query parameter in the API), the rest is the file.
#![no_main]

use gatelog_core::formats::{Format, parse};
use gatelog_core::records::RecordKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let kinds = RecordKind::OPTIONS;
    let kind = kinds[usize::from(selector) % kinds.len()].1;
    gatelog_fuzz_checks(parse(Format::Csv(kind), body));
});

include!("checks.rs");
