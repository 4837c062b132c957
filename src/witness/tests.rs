//! The log's witness client against a real witness over HTTP, on real ledgers.

use std::sync::Arc;

use axum::http::StatusCode;

use super::client::WitnessConfig;
use super::collector::Outcome;
use super::cosignature::CosignerKey;
use super::protocol::AddCheckpoint;
use super::server::{Witness, router};
use crate::ledger::Ledger;
use crate::ledger::note::NoteSigner;
use crate::testing::{TestApp, TestDb, sample_batch};

/// A witness for `logs`, serving on a loopback port until the test ends.
async fn start_witness(name: &str, logs: Vec<crate::ledger::note::NoteVerifier>) -> (Arc<Witness>, WitnessConfig) {
    let key = CosignerKey::generate(name).expect("witness key");
    let witness = Arc::new(Witness::new(key.clone(), logs, None).expect("witness"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = router(witness.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (witness, WitnessConfig { verifier: key.verifier(), url })
}

/// A configured witness nobody answers for (a closed port).
fn unreachable_witness() -> WitnessConfig {
    let key = CosignerKey::generate("down.example/w").expect("key");
    WitnessConfig { verifier: key.verifier(), url: "http://127.0.0.1:9".into() }
}

fn outcome_of(outcomes: &[(String, Outcome)], witness: &WitnessConfig) -> Outcome {
    let vkey = witness.verifier.to_string();
    outcomes.iter().find(|(w, _)| *w == vkey).map(|(_, o)| o.clone()).expect("an outcome per witness")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_cosigned_served_and_shown_as_k_of_n() {
    let app = TestApp::new().await;
    let (witness, config) = start_witness("witness.test/w1", vec![app.state.ledger.verifier()]).await;
    let down = unreachable_witness();
    let app = app.with_witnesses(vec![config.clone(), down.clone()]);
    let ledger = app.ledger();
    app.get("/checkpoint/witnessed").await.assert_status(StatusCode::NOT_FOUND);
    assert!(app.get("/ledger").await.html().text_of("#witness-summary").contains("witnessed by 0 of 2"));

    ledger.append(&app.db.pool, &sample_batch(0, 5)).await.expect("append");
    let outcomes = app.state.witnesses.collect(&app.db.pool).await.expect("round");
    assert_eq!(outcome_of(&outcomes, &config), Outcome::Cosigned);
    assert!(matches!(outcome_of(&outcomes, &down), Outcome::Failed(_)));
    assert_eq!(witness.latest(ledger.origin()).map(|c| c.size), Some(5));

    // The next round sends a consistency proof from 5 to 12.
    ledger.append(&app.db.pool, &sample_batch(5, 7)).await.expect("append");
    let outcomes = app.state.witnesses.collect(&app.db.pool).await.expect("round");
    assert_eq!(outcome_of(&outcomes, &config), Outcome::Cosigned);
    assert_eq!(witness.latest(ledger.origin()).map(|c| c.size), Some(12));
    // Nothing new: nothing asked.
    let outcomes = app.state.witnesses.collect(&app.db.pool).await.expect("round");
    assert_eq!(outcome_of(&outcomes, &config), Outcome::AlreadyCosigned);

    // /checkpoint carries the log's signature and the cosignature, both valid.
    let note = app.get("/checkpoint").await.text();
    assert!(app.state.ledger.verifier().open(&note).is_ok());
    let cosignature = config.verifier.find_in(&note).expect("the witness's cosignature is served");
    assert!(cosignature.time <= chrono::Utc::now());
    let witnessed = app.get("/checkpoint/witnessed").await;
    witnessed.assert_status(StatusCode::OK);
    assert_eq!(witnessed.text(), note);

    let page = app.get("/ledger").await.html();
    let summary = page.text_of("#witness-summary");
    assert!(summary.contains("witnessed by 1 of 2"), "{summary}");
    assert!(summary.contains("12 entries, the latest"), "{summary}");
    let rows = page.texts_of("#witness-table tbody tr");
    assert!(rows.iter().any(|r| r.contains("witness.test/w1") && r.contains("UTC")), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("down.example/w") && r.contains("127.0.0.1:9")), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_that_knows_another_size_answers_409_and_the_log_catches_up() {
    let app = TestApp::new().await;
    let (witness, config) = start_witness("witness.test/w2", vec![app.state.ledger.verifier()]).await;
    let app = app.with_witnesses(vec![config.clone()]);
    let ledger = app.ledger();
    // The witness saw size 4 through another channel (its record of us outlived ours).
    let appended = ledger.append(&app.db.pool, &sample_batch(0, 4)).await.expect("append");
    let request = AddCheckpoint { old_size: 0, proof: vec![], checkpoint: appended.checkpoint.note.clone() };
    let (status, _, _) = witness.add_checkpoint(request.encode().as_bytes());
    assert_eq!(status, StatusCode::OK);

    ledger.append(&app.db.pool, &sample_batch(4, 9)).await.expect("append");
    // We have no record of its cosignature: we send old 0, it answers 409 "4", we retry from 4.
    let outcomes = app.state.witnesses.collect(&app.db.pool).await.expect("round");
    assert_eq!(outcome_of(&outcomes, &config), Outcome::Cosigned);
    assert_eq!(witness.latest(ledger.origin()).map(|c| c.size), Some(13));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_log_is_refused_by_the_witness() {
    // Two databases, one signing key: the operator shows one history to the witness,
    // then tries to get a different one cosigned.
    let signer = NoteSigner::generate("fork.gatelog.invalid/log").expect("key");
    let honest = Ledger::new(signer.clone());
    let forked = Ledger::new(signer.clone());
    let (db_a, db_b) = (TestDb::new().await, TestDb::new().await);
    let (witness, config) = start_witness("witness.test/w3", vec![signer.verifier()]).await;
    let state_a = crate::AppState::new(db_a.pool.clone(), honest.clone()).with_witnesses(vec![config.clone()]);
    let state_b = crate::AppState::new(db_b.pool.clone(), forked.clone()).with_witnesses(vec![config.clone()]);

    honest.append(&db_a.pool, &sample_batch(0, 6)).await.expect("append");
    let outcomes = state_a.witnesses.collect(&db_a.pool).await.expect("round");
    assert_eq!(outcome_of(&outcomes, &config), Outcome::Cosigned);

    // Same size, other entries: a different root for size 6.
    forked.append(&db_b.pool, &sample_batch(100, 6)).await.expect("append");
    let outcomes = state_b.witnesses.collect(&db_b.pool).await.expect("round");
    let Outcome::Failed(why) = outcome_of(&outcomes, &config) else { panic!("a fork at the same size was cosigned") };
    assert!(why.contains("409") && why.contains("forked"), "{why}");

    // Larger, other entries: its proof from 6 cannot match the root the witness holds.
    forked.append(&db_b.pool, &sample_batch(200, 5)).await.expect("append");
    let outcomes = state_b.witnesses.collect(&db_b.pool).await.expect("round");
    let Outcome::Failed(why) = outcome_of(&outcomes, &config) else { panic!("a forked extension was cosigned") };
    assert!(why.contains("422") && why.contains("does not extend"), "{why}");

    assert_eq!(witness.latest(signer.name()).map(|c| c.size), Some(6), "the witness kept the honest head");
    let refusals = witness.refusals();
    assert_eq!(refusals.len(), 2, "both forked checkpoints are kept as evidence");
    assert!(refusals.iter().all(|r| signer.verifier().open(&r.checkpoint).is_ok()));

    // The honest log keeps growing and keeps being cosigned.
    honest.append(&db_a.pool, &sample_batch(6, 3)).await.expect("append");
    let outcomes = state_a.witnesses.collect(&db_a.pool).await.expect("round");
    assert_eq!(outcome_of(&outcomes, &config), Outcome::Cosigned);
}

#[tokio::test]
async fn the_witness_applies_the_spec_checks() {
    let log = NoteSigner::generate("spec.gatelog.invalid/log").expect("key");
    let key = CosignerKey::generate("witness.test/spec").expect("key");
    let dir = tempfile::tempdir().expect("tempdir");
    let state_file = dir.path().join("witness.json");
    let witness = Witness::new(key.clone(), vec![log.verifier()], Some(state_file.clone())).expect("witness");
    // An in-memory tree of 8 leaves: every completed subtree, and the root at each size.
    let mut frontier = crate::ledger::merkle::Frontier::empty();
    let mut nodes = std::collections::HashMap::new();
    let mut roots = vec![frontier.root()];
    for i in 0..8u8 {
        nodes.extend(frontier.push(crate::ledger::merkle::leaf_hash(&[i])));
        roots.push(frontier.root());
    }
    let root = |n: usize| roots[n];
    let note = |n: usize| {
        let body = crate::ledger::checkpoint::Checkpoint { origin: log.name().into(), size: n as u64, root: root(n) };
        log.sign(&body.body()).expect("sign")
    };
    let send = |old: u64, proof: Vec<crate::ledger::merkle::Hash>, checkpoint: String| {
        witness.add_checkpoint(AddCheckpoint { old_size: old, proof, checkpoint }.encode().as_bytes())
    };

    assert_eq!(witness.add_checkpoint(b"garbage").0, StatusCode::BAD_REQUEST);
    let stranger = NoteSigner::generate("other.invalid/log").expect("key");
    assert_eq!(
        send(
            0,
            vec![],
            stranger.sign("other.invalid/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").expect("sign")
        )
        .0,
        StatusCode::NOT_FOUND
    );
    let impostor = NoteSigner::generate(log.name()).expect("key");
    assert_eq!(
        send(0, vec![], impostor.sign(&note(3)[..note(3).find("\n\n").expect("split") + 1]).expect("sign")).0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(5, vec![], note(3)).0, StatusCode::BAD_REQUEST, "old larger than the checkpoint");
    assert_eq!(send(0, vec![[0u8; 32]], note(3)).0, StatusCode::UNPROCESSABLE_ENTITY, "a proof with old 0");

    let (status, _, body) = send(0, vec![], note(3));
    assert_eq!(status, StatusCode::OK, "{body}");
    let checkpoint_body = &note(3)[..note(3).find("\n\n").expect("split") + 1];
    key.verifier().verify_line(checkpoint_body, body.trim_end()).expect("a valid cosignature comes back");

    let (status, content_type, body) = send(0, vec![], note(5));
    assert_eq!((status, content_type, body.as_str()), (StatusCode::CONFLICT, "text/x.tlog.size", "3\n"));
    assert_eq!(send(3, vec![[9u8; 32]], note(5)).0, StatusCode::UNPROCESSABLE_ENTITY, "a bad proof");
    let plan = crate::ledger::merkle::consistency_proof_plan(3, 5).expect("plan");
    let proof = crate::ledger::merkle::assemble(&plan, &nodes).expect("proof");
    assert_eq!(send(3, proof, note(5)).0, StatusCode::OK);
    assert_eq!(send(5, vec![], note(5)).0, StatusCode::OK, "the same checkpoint again is cosigned again");

    // The state survives a restart: a new witness process on the same file remembers size 5.
    let again = Witness::new(key, vec![log.verifier()], Some(state_file)).expect("restart");
    assert_eq!(again.latest(log.name()).map(|c| c.size), Some(5));
}
