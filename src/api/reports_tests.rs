//! Reports by others and the provider's answers through the real router (issue 19).

use std::num::NonZeroU32;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::auth::IngestRate;
use crate::submission::{Receipt, verify_receipt};
use crate::testing::{TestApp, TestResponse, outcomes};

/// The app with reporters limited to `rate` (tests that are not about the limit get a loose one).
async fn app_with_reporter_rate(rate: IngestRate) -> TestApp {
    let mut app = TestApp::new().await;
    app.state = app.state.clone().with_reporters(rate, NonZeroU32::new(30).expect("non-zero"));
    app.router = crate::app(app.state.clone(), &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static"));
    app
}

async fn app() -> TestApp {
    let many = NonZeroU32::new(1000).expect("non-zero");
    app_with_reporter_rate(IngestRate { per_second: many, burst: many }).await
}

async fn reporter_token(app: &TestApp, slug: &str) -> String {
    let mut conn = app.db.pool.acquire().await.expect("conn");
    let slug = crate::records::Slug::parse(slug).expect("slug");
    crate::db::providers::insert_reporter(&mut conn, &slug, &format!("{slug} (test)"), None).await.expect("reporter");
    let issued = crate::tokens::issue().expect("token");
    assert!(crate::db::tokens::insert(&mut conn, &slug, &issued, "test").await.expect("insert"));
    issued.token
}

async fn post(app: &TestApp, token: &str, body: &Value) -> TestResponse {
    app.post("/api/v1/records", "application/json", body.to_string(), Some(token), &[]).await
}

fn report() -> Value {
    crate::records::reports::examples()[0].clone()
}

fn lockup() -> Value {
    let mut lockup = crate::records::kinds::examples()[3].clone();
    lockup["region"] = json!("eu-de");
    lockup
}

fn with(mut base: Value, field: &str, value: Value) -> Value {
    base[field] = value;
    base
}

fn refused_on(response: &TestResponse, status: StatusCode, field: &str, reason: &str) {
    response.assert_status(status);
    let details = response.json()["error"]["details"].clone();
    assert!(
        details.as_array().is_some_and(|d| d.iter().any(|x| x["field"] == field
            && x["index"] == 0
            && x["reason"].as_str().is_some_and(|r| r.contains(reason)))),
        "expected {field}: {reason}, got {details}"
    );
}

async fn shown(app: &TestApp, about: &str) -> Vec<crate::db::reports::ShownReport> {
    let mut conn = app.db.pool.acquire().await.expect("conn");
    crate::db::reports::shown(&mut conn, Some(about), None, 100).await.expect("shown")
}

#[tokio::test]
async fn a_report_is_a_ledger_entry_of_its_reporter_kept_out_of_the_providers_figures() {
    let app = app().await;
    app.provider_token("nimbus-gpu").await;
    let reporter = reporter_token(&app, "tech-desk").await;
    let response = post(&app, &reporter, &json!([report()])).await;
    response.assert_status(StatusCode::CREATED);
    let json = response.json();
    assert_eq!(outcomes(&json), ["created"]);
    assert_eq!((json["provider"].clone(), json["records"][0]["kind"].clone()), (json!("tech-desk"), json!("report")));

    // Same proofs as any entry, attributed to the reporter, never to the provider.
    let receipt: Receipt = serde_json::from_value(app.get("/api/v1/receipts/0").await.json()).expect("receipt");
    let verified = verify_receipt(&receipt, &[app.ledger().verifier()]).expect("verifies offline");
    assert_eq!((verified.provider.as_str(), verified.kind.as_str()), ("tech-desk", "report"));

    // Resent: a duplicate; changed: an amendment of the reporter's own report.
    assert_eq!(outcomes(&post(&app, &reporter, &json!([report()])).await.json()), ["duplicate"]);
    let amended = post(&app, &reporter, &json!([with(report(), "accelerators", json!(4000))])).await;
    assert_eq!(outcomes(&amended.json()), ["amended"]);
    assert_eq!(amended.json()["records"][0]["supersedes"], 0);
    assert_eq!(app.tree_size().await, 2);

    let reports = shown(&app, "nimbus-gpu").await;
    assert_eq!(reports.len(), 1, "the latest version only");
    assert_eq!((reports[0].index, reports[0].reporter.as_str()), (1, "tech-desk"));
    assert!(reports[0].answer.is_none());
    // Not in the projection: no provider's figures, no record counts.
    let folded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM projection_latest").fetch_one(&app.db.pool).await.expect("count");
    assert_eq!(folded, 0);
    app.get("/providers/nimbus-gpu").await.assert_status(StatusCode::OK);
    app.get("/lockups").await.assert_status(StatusCode::OK);
    // Its entry page reads it under today's rules, as `verify` does: not "unreadable".
    let entry = app.get("/ledger/entries/0").await;
    entry.assert_status(StatusCode::OK);
    assert!(!entry.text().to_lowercase().contains("unreadable"), "{}", entry.text());
}

#[tokio::test]
async fn the_provider_confirms_disputes_and_corrects_and_each_answer_supersedes_the_last() {
    let app = app().await;
    let provider = app.provider_token("nimbus-gpu").await;
    let reporter = reporter_token(&app, "tech-desk").await;
    post(&app, &provider, &json!([lockup()])).await.assert_status(StatusCode::CREATED); // entry 0
    post(&app, &reporter, &json!([report()])).await.assert_status(StatusCode::CREATED); // entry 1

    let confirm = json!({"kind": "answer", "report": 1, "response": "confirm", "disclosure_entry": 0});
    let response = post(&app, &provider, &json!([confirm])).await;
    response.assert_status(StatusCode::CREATED);
    assert_eq!(
        (response.json()["provider"].clone(), outcomes(&response.json())),
        (json!("nimbus-gpu"), vec!["created".to_owned()])
    );
    assert_eq!(shown(&app, "nimbus-gpu").await[0].answer.as_ref().map(|a| a.response.as_str()), Some("confirm"));
    assert_eq!(outcomes(&post(&app, &provider, &json!([confirm])).await.json()), ["duplicate"]);

    let dispute = json!({"kind": "answer", "report": 1, "response": "dispute", "statement": "No such deal."});
    let response = post(&app, &provider, &json!([dispute])).await;
    assert_eq!(outcomes(&response.json()), ["amended"]);
    assert_eq!(response.json()["records"][0]["supersedes"], 2);

    let correct = json!({"kind": "answer", "report": 1, "response": "correct", "corrections": {"accelerators": 1024, "end_date": "2028-01-01"}});
    let response = post(&app, &provider, &json!([correct])).await;
    assert_eq!(outcomes(&response.json()), ["amended"]);
    let reports = shown(&app, "nimbus-gpu").await;
    let answer = reports[0].answer.as_ref().expect("answered");
    assert_eq!((answer.index, answer.response.as_str()), (4, "correct"));
    let corrected = answer.answer.as_ref().expect("decodes").corrections.clone().expect("corrections");
    assert_eq!(corrected["accelerators"], 1024);
    // Nothing was edited or removed: five entries, each still served.
    assert_eq!(app.tree_size().await, 5);
    for index in 0..5 {
        app.get(&format!("/api/v1/receipts/{index}")).await.assert_status(StatusCode::OK);
    }
    // The provider's own figures hold its disclosure alone.
    let folded: Vec<String> = sqlx::query_scalar("SELECT kind FROM projection_latest ORDER BY idx")
        .fetch_all(&app.db.pool)
        .await
        .expect("kinds");
    assert_eq!(folded, ["lockup"]);
}

#[tokio::test]
async fn reports_about_unknown_providers_and_bad_sources_are_refused_where_and_why() {
    let app = app().await;
    app.provider_token("nimbus-gpu").await;
    let reporter = reporter_token(&app, "tech-desk").await;
    reporter_token(&app, "other-desk").await;
    let cases = [
        (with(report(), "about", json!("no-such-cloud")), "about", "no provider no-such-cloud"),
        (with(report(), "about", json!("other-desk")), "about", "a reporter, not a provider"),
        (with(report(), "sources", json!([])), "sources", "1 to 5"),
        (with(report(), "sources", json!(["javascript:alert(1)"])), "sources[0]", ""),
        (with(report(), "sources", json!(["https://me:secret@news.example.org/x"])), "sources[0]", "password"),
        (with(report(), "sources", json!(["https://news.example.org/a b"])), "sources[0]", "ASCII"),
        (
            with(report(), "sources", json!([format!("https://news.example.org/{}", "a".repeat(1000))])),
            "sources[0]",
            "1 to 1000",
        ),
        (with(report(), "published_date", Value::Null), "published_date", "required"),
        (with(report(), "quotation", Value::Null), "quotation", "required"),
        (with(report(), "signature", json!("abc")), "signature", "unsigned"),
    ];
    for (body, field, reason) in cases {
        refused_on(&post(&app, &reporter, &json!([body])).await, StatusCode::UNPROCESSABLE_ENTITY, field, reason);
    }
    assert_eq!(app.tree_size().await, 0);
}

#[tokio::test]
async fn tokens_file_only_what_their_role_allows() {
    let app = app().await;
    let provider = app.provider_token("nimbus-gpu").await;
    let other = app.provider_token("rhine-ai-factory").await;
    let reporter = reporter_token(&app, "tech-desk").await;

    // A reporter token files reports only: never a provider record, never an answer.
    let r = post(&app, &reporter, &json!([lockup()])).await;
    r.assert_status(StatusCode::FORBIDDEN);
    assert!(r.json()["error"]["message"].as_str().is_some_and(|m| m.contains("reports only")), "{}", r.text());
    let answer = json!({"kind": "answer", "report": 0, "response": "dispute", "statement": "x"});
    post(&app, &reporter, &json!([answer])).await.assert_status(StatusCode::FORBIDDEN);
    post(&app, &reporter, &json!([with(report(), "provider", json!("other-desk"))]))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let csv = "about,reported_kind\nnimbus-gpu,lockup\n";
    let r = app.post("/api/v1/records?kind=capacity", "text/csv", csv, Some(&reporter), &[]).await;
    assert!(r.status.is_client_error(), "{}", r.status);

    // A provider token cannot file a report, about others or itself.
    let r = post(&app, &other, &json!([report()])).await;
    r.assert_status(StatusCode::FORBIDDEN);
    assert!(r.json()["error"]["message"].as_str().is_some_and(|m| m.contains("reporters")));
    assert_eq!(app.tree_size().await, 0);

    // Answers only by the provider the report is about, and a confirmation points at its own
    // disclosure of the report's kind.
    post(&app, &provider, &json!([lockup()])).await.assert_status(StatusCode::CREATED); // 0
    post(&app, &other, &json!([lockup()])).await.assert_status(StatusCode::CREATED); // 1
    let price = crate::records::kinds::examples()[2].clone();
    post(&app, &provider, &json!([price])).await.assert_status(StatusCode::CREATED); // 2
    post(&app, &reporter, &json!([report()])).await.assert_status(StatusCode::CREATED); // 3
    let answer = |fields: Value| {
        let mut value = json!({"kind": "answer", "report": 3});
        for (k, v) in fields.as_object().expect("object") {
            value[k] = v.clone();
        }
        value
    };
    let dispute = answer(json!({"response": "dispute", "statement": "Not ours."}));
    refused_on(
        &post(&app, &other, &json!([dispute])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "report",
        "about nimbus-gpu",
    );
    let not_a_report = answer(json!({"report": 0, "response": "dispute", "statement": "x"}));
    refused_on(
        &post(&app, &provider, &json!([not_a_report])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "report",
        "not a report",
    );
    let cases = [
        (
            answer(json!({"response": "confirm", "disclosure_entry": 1})),
            "disclosure_entry",
            "filed by rhine-ai-factory",
        ),
        (answer(json!({"response": "confirm", "disclosure_entry": 2})), "disclosure_entry", "price record"),
        (answer(json!({"response": "confirm", "disclosure_entry": 99})), "disclosure_entry", "no entry 99"),
        (answer(json!({"response": "confirm"})), "disclosure_entry", "required"),
        (answer(json!({"response": "dispute"})), "statement", "required"),
        (
            answer(json!({"response": "correct", "corrections": {"pricing_model": "spot"}})),
            "corrections.pricing_model",
            "not a field",
        ),
        (
            answer(json!({"response": "correct", "corrections": {"accelerators": 0}})),
            "corrections.accelerators",
            "at least 1",
        ),
    ];
    for (body, field, reason) in cases {
        refused_on(&post(&app, &provider, &json!([body])).await, StatusCode::UNPROCESSABLE_ENTITY, field, reason);
    }
    // With records of its own, an invalid record refuses the whole request, answer included.
    let mut bad_lockup = lockup();
    bad_lockup["accelerators"] = json!(0);
    let mixed = json!([bad_lockup, answer(json!({"response": "dispute", "statement": "x"}))]);
    refused_on(&post(&app, &provider, &mixed).await, StatusCode::UNPROCESSABLE_ENTITY, "accelerators", "at least 1");
    assert_eq!(app.tree_size().await, 4, "nothing written by a refused batch");
}

#[tokio::test]
async fn a_distrusted_reporters_later_reports_are_logged_but_hidden_with_the_reason() {
    let app = app().await;
    app.provider_token("nimbus-gpu").await;
    let reporter = reporter_token(&app, "rumour-mill").await;
    post(&app, &reporter, &json!([report()])).await.assert_status(StatusCode::CREATED);
    let mut conn = app.db.pool.acquire().await.expect("conn");
    let slug = crate::records::Slug::parse("rumour-mill").expect("slug");
    assert!(crate::db::providers::set_distrust(&mut conn, &slug, Some("Fabricated sources")).await.expect("distrust"));
    let later = with(report(), "published_date", json!("2026-10-20"));
    post(&app, &reporter, &json!([later])).await.assert_status(StatusCode::CREATED);
    assert_eq!(app.tree_size().await, 2, "still logged");
    let reports = shown(&app, "nimbus-gpu").await;
    let hidden: Vec<Option<&str>> = reports.iter().map(|r| r.hidden_reason.as_deref()).collect();
    assert_eq!(hidden, [Some("Fabricated sources"), None], "the earlier report stays shown");
    // Unanswered counts leave the hidden one out.
    let future = chrono::Utc::now() + chrono::Duration::days(1);
    let unanswered = crate::db::reports::unanswered(&mut conn, future).await.expect("unanswered");
    assert_eq!(unanswered, [("nimbus-gpu".to_owned(), 1)]);
    let now = chrono::Utc::now() - chrono::Duration::days(1);
    assert!(crate::db::reports::unanswered(&mut conn, now).await.expect("unanswered").is_empty(), "not yet due");
}

#[tokio::test]
async fn reporters_have_their_own_rate_limit() {
    let one = NonZeroU32::new(1).expect("non-zero");
    let app = app_with_reporter_rate(IngestRate { per_second: one, burst: one }).await;
    let provider = app.provider_token("nimbus-gpu").await;
    let reporter = reporter_token(&app, "tech-desk").await;
    post(&app, &reporter, &json!([report()])).await.assert_status(StatusCode::CREATED);
    let limited = post(&app, &reporter, &json!([with(report(), "published_date", json!("2026-10-04"))])).await;
    limited.assert_status(StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").parse::<u64>().is_ok_and(|s| s >= 1));
    // Providers keep their own, larger budget.
    for _ in 0..3 {
        post(&app, &provider, &json!([lockup()])).await;
    }
    post(&app, &provider, &json!([crate::records::kinds::examples()[4].clone()]))
        .await
        .assert_status(StatusCode::CREATED);
}

#[tokio::test]
async fn scorecards_lockups_and_compliance_show_reports_apart_with_their_answers() {
    let app = TestApp::with_demo().await;
    let page = app.get("/providers/halcyon-ai-cloud").await;
    page.assert_status(StatusCode::OK);
    let html = page.html();
    let answers = html.texts_of("#reports-section li.report p.answer");
    assert!(answers.iter().any(|a| a.contains("Corrected by the provider") && a.contains("1024")), "{answers:?}");
    let sources = html.attrs_of("#reports-section a.source", "href");
    assert!(sources.iter().all(|s| s.starts_with("https://")) && !sources.is_empty());
    assert!(html.text_of("#reports-section").contains("no figure or grade on this page includes them"));

    let stratus = app.get("/providers/stratus-compute").await.html();
    assert!(stratus.exists("#reports-section li.report.unanswered"), "two months without an answer");
    let nordic = app.get("/providers/nordic-hpc").await.html();
    assert!(nordic.text_of("#reports-section li.hidden-report").contains("fabricated"));

    let lockups = app.get("/lockups").await;
    lockups.assert_status(StatusCode::OK);
    let rows = lockups.html().texts_of("#reports-section li.report");
    assert_eq!(rows.len(), 5, "the demo's lock-up reports (not the price report): {rows:?}");
    assert!(rows.iter().any(|r| r.contains("Confirmed by the provider")));
    assert!(rows.iter().any(|r| r.contains("Disputed by the provider")));

    let compliance = app.get("/compliance").await.html();
    let unanswered = compliance.texts_of("#unanswered-reports tbody tr");
    assert_eq!(
        unanswered.len(),
        1,
        "stratus only: the price report is recent, the distrusted one hidden: {unanswered:?}"
    );
    assert!(unanswered[0].contains("Stratus"));
}

#[tokio::test]
async fn the_reports_migration_goes_down_and_up_again() {
    let app = app().await;
    app.provider_token("nimbus-gpu").await;
    let reporter = reporter_token(&app, "tech-desk").await;
    post(&app, &reporter, &json!([report()])).await.assert_status(StatusCode::CREATED);
    sqlx::raw_sql(include_str!("../../migrations/20261211000020_reports.down.sql"))
        .execute(&app.db.pool)
        .await
        .expect("down");
    let slugs: Vec<String> =
        sqlx::query_scalar("SELECT slug FROM providers").fetch_all(&app.db.pool).await.expect("providers");
    assert_eq!(slugs, ["nimbus-gpu"], "the reporter does not turn into a provider");
    assert_eq!(app.tree_size().await, 1, "the ledger keeps the report");
    sqlx::raw_sql(include_str!("../../migrations/20261211000020_reports.up.sql"))
        .execute(&app.db.pool)
        .await
        .expect("up again");
}

#[tokio::test]
async fn a_confirmation_points_at_a_disclosure_filed_earlier_in_the_same_request() {
    let app = app().await;
    let provider = app.provider_token("nimbus-gpu").await;
    let reporter = reporter_token(&app, "tech-desk").await;
    post(&app, &reporter, &json!([report()])).await.assert_status(StatusCode::CREATED); // entry 0
    let confirm = json!({"kind": "answer", "report": 0, "response": "confirm", "disclosure_position": 1});
    let price = crate::records::kinds::examples()[2].clone();

    // Refused where and why, nothing written: a position that is not a record of this
    // request, one after the answer, one of another kind.
    let refused = [
        (json!([price.clone(), with(confirm.clone(), "disclosure_position", json!(7))]), 1, "no record of yours"),
        (json!([price.clone(), with(confirm.clone(), "disclosure_position", json!(0))]), 1, "a price record"),
        (json!([price.clone(), confirm.clone()]), 1, "no record of yours is at position 1"),
        (json!([price.clone(), with(confirm.clone(), "disclosure_position", json!(2)), lockup()]), 1, "comes after"),
    ];
    for (body, index, reason) in refused {
        let response = post(&app, &provider, &body).await;
        response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let details = response.json()["error"]["details"].clone();
        assert!(
            details.as_array().is_some_and(|d| d.iter().any(|x| x["field"] == "disclosure_position"
                && x["index"] == index
                && x["reason"].as_str().is_some_and(|r| r.contains(reason)))),
            "expected {reason}, got {details}"
        );
    }
    assert_eq!(app.tree_size().await, 1);

    // The disclosure and the answer in one request: appended in body order, the answer
    // stored with the entry index its disclosure got.
    let together = json!([price.clone(), lockup(), confirm.clone()]);
    let response = post(&app, &provider, &together).await;
    response.assert_status(StatusCode::CREATED);
    let json = response.json();
    assert_eq!(outcomes(&json), ["created", "created", "created"]);
    let kinds: Vec<Value> = json["records"].as_array().expect("records").iter().map(|r| r["kind"].clone()).collect();
    assert_eq!(kinds, [json!("price"), json!("lockup"), json!("answer")]);
    let indexes: Vec<u64> =
        json["records"].as_array().expect("records").iter().filter_map(|r| r["entry_index"].as_u64()).collect();
    assert_eq!(indexes, [1, 2, 3]);
    let receipt: Receipt = serde_json::from_value(app.get("/api/v1/receipts/3").await.json()).expect("receipt");
    let verified = verify_receipt(&receipt, &[app.ledger().verifier()]).expect("verifies offline");
    assert_eq!((verified.provider.as_str(), verified.kind.as_str()), ("nimbus-gpu", "answer"));
    assert_eq!(verified.kind, "answer");
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &receipt.entry_base64).expect("b64");
    let entry: Value = serde_json::from_slice(&bytes).expect("entry JSON");
    assert_eq!(entry["record"]["disclosure_entry"], 2);
    assert!(entry["record"].get("disclosure_position").is_none(), "a position means nothing outside its request");
    let reports = shown(&app, "nimbus-gpu").await;
    let answer = reports[0].answer.as_ref().expect("answered");
    assert_eq!((answer.index, answer.response.as_str()), (3, "confirm"));
    assert_eq!(answer.answer.as_ref().ok().and_then(|a| a.disclosure_entry), Some(2));
    // The provider's figures hold its records, not the answer.
    let folded: Vec<String> = sqlx::query_scalar("SELECT kind FROM projection_latest ORDER BY idx")
        .fetch_all(&app.db.pool)
        .await
        .expect("kinds");
    assert_eq!(folded, ["price", "lockup"]);

    // Resent: all duplicates (the answer resolves to the same entry); a changed disclosure
    // sent again with the confirmation amends both, the answer now pointing at the new entry.
    assert_eq!(outcomes(&post(&app, &provider, &together).await.json()), ["duplicate", "duplicate", "duplicate"]);
    let changed = json!([with(lockup(), "accelerators", json!(2048)), with(confirm, "disclosure_position", json!(0))]);
    let response = post(&app, &provider, &changed).await;
    assert_eq!(outcomes(&response.json()), ["amended", "amended"]);
    assert_eq!(
        (response.json()["records"][0]["supersedes"].clone(), response.json()["records"][1]["supersedes"].clone()),
        (json!(2), json!(3))
    );
    let reports = shown(&app, "nimbus-gpu").await;
    assert_eq!(
        reports[0].answer.as_ref().and_then(|a| a.answer.as_ref().ok()).and_then(|a| a.disclosure_entry),
        Some(4)
    );
    assert_eq!(app.tree_size().await, 6);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_to_reports_and_answers() {
    let app = app().await;
    let provider = app.provider_token("nimbus-gpu").await;
    let reporter = reporter_token(&app, "tech-desk").await;
    let keyed = |token: &str, key: &'static str, body: &Value| {
        let (token, body) = (token.to_owned(), body.to_string());
        let app = &app;
        async move { app.post("/api/v1/records", "application/json", body, Some(&token), &[("idempotency-key", key)]).await }
    };

    let reports = json!([report(), with(report(), "published_date", json!("2026-10-20"))]);
    let first = keyed(&reporter, "reports-1", &reports).await;
    first.assert_status(StatusCode::CREATED);
    assert_eq!(first.header("idempotent-replayed"), "");
    // Another report lands before the retry; the retry still gets the first answer, byte for byte.
    post(&app, &reporter, &json!([with(report(), "published_date", json!("2026-09-01"))]))
        .await
        .assert_status(StatusCode::CREATED);
    let again = keyed(&reporter, "reports-1", &reports).await;
    again.assert_status(StatusCode::CREATED);
    assert_eq!(again.header("idempotent-replayed"), "true");
    assert_eq!(again.json(), first.json());
    let other = keyed(&reporter, "reports-1", &json!([report()])).await;
    other.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.tree_size().await, 3);

    // A provider's records and answer under one key: the same.
    let together = json!([lockup(), {"kind": "answer", "report": 0, "response": "confirm", "disclosure_position": 0}]);
    let first = keyed(&provider, "answers-1", &together).await;
    first.assert_status(StatusCode::CREATED);
    assert_eq!(outcomes(&first.json()), ["created", "created"]);
    let again = keyed(&provider, "answers-1", &together).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (StatusCode::CREATED, "true"));
    assert_eq!(again.json(), first.json());
    assert_eq!(app.tree_size().await, 5, "the retry appended nothing");
    // Without the key, the same request is classified again: duplicates.
    assert_eq!(outcomes(&post(&app, &provider, &together).await.json()), ["duplicate", "duplicate"]);
}

#[tokio::test]
async fn a_report_batch_over_the_record_limit_is_refused_and_counted_like_any_other() {
    let app = app().await;
    app.provider_token("nimbus-gpu").await;
    let reporter = reporter_token(&app, "tech-desk").await;
    let too_many = Value::Array(vec![json!({"kind": "report"}); crate::api::batch::MAX_RECORDS + 1]);
    let response = post(&app, &reporter, &too_many).await;
    response.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.json()["error"]["message"].as_str().is_some_and(|m| m.contains("at most 10000")));
    let too_large = app
        .state
        .metrics
        .rejected_batches
        .get_or_create(&crate::telemetry::RejectionLabels { reason: crate::telemetry::BatchRejection::TooLarge });
    assert_eq!(too_large.get(), 1, "the reports path counts its refusals as the records path does");
    assert_eq!(app.tree_size().await, 0);
}
