//! `sacct --parsable2` output as a site's accounting export gives it to `gatelog-collect sacct`.
//! The first byte picks where waits start from; the rest is the file.
#![no_main]

use gatelog_collect::sacct::parse::{self, Skipped, WaitFrom};
use libfuzzer_sys::fuzz_target;

/// 2026-11-25T00:00:00Z: start times after this are refused as being in the future.
const NOW: i64 = 1_795_564_800;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else { return };
    let from = if selector % 2 == 0 { WaitFrom::Eligible } else { WaitFrom::Submit };
    let mut skipped = Skipped::default();
    let mut seen = 0u64;
    let taken = parse::read(
        file,
        from,
        NOW,
        |job| {
            assert!(job.wait >= 0, "a counted job never waited a negative time");
            assert!(job.start <= NOW, "a counted job never started in the future");
            seen += 1;
            Ok(())
        },
        &mut skipped,
    );
    if let Ok(taken) = taken {
        assert_eq!(taken, seen, "every job taken was passed to the caller");
        let lines = file.split(|&b| b == b'\n').count() as u64;
        assert!(taken + skipped.total() <= lines, "no line is both counted and skipped, or counted twice");
    }
});
