// Shared by the three record-body targets (included, not a module: each target is its own crate).

/// What must hold for any body, beyond not panicking: a refusal always says where and
/// why, and accepted records are in body order and survive the ledger's canonical form.
fn gatelog_fuzz_checks(outcome: Result<Vec<gatelog_core::formats::Located>, gatelog_core::formats::BodyError>) {
    use gatelog_core::formats::BodyError;
    match outcome {
        Ok(records) => {
            assert!(!records.is_empty(), "an accepted body holds at least one record");
            for pair in records.windows(2) {
                assert!(pair[0].position < pair[1].position, "records keep the order of the body");
            }
            for located in &records {
                let again = gatelog_core::records::Record::parse(located.record.to_submission())
                    .expect("a record's own submission form parses again");
                assert_eq!(again, located.record, "records round-trip through their JSON form");
            }
        }
        Err(BodyError::Malformed(why)) => assert!(!why.is_empty(), "a malformed body says why"),
        Err(BodyError::Invalid(details)) => {
            assert!(!details.is_empty(), "an invalid body lists its problems");
            for detail in &details {
                assert!(!detail.reason.is_empty(), "every problem has a message");
            }
        }
    }
}
