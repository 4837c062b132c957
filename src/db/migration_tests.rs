//! Every down migration, newest first, then every up migration again: the schema comes back
//! the same, and the app works on it (issue 20: down migrations were never run by a test).

use axum::http::StatusCode;
use serde_json::json;
use sqlx::{PgPool, Row};

use super::MIGRATOR;
use crate::testing::TestApp;

/// The public schema, as sorted lines: columns, indexes, constraints, triggers, functions,
/// types and relations.
async fn schema(pool: &PgPool) -> Vec<String> {
    let query = r"
        SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' nullable=' || is_nullable
               || ' default=' || coalesce(column_default, '') AS line
          FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'
        UNION ALL
        SELECT 'index ' || indexdef AS line FROM pg_indexes
         WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations'
        UNION ALL
        SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid) AS line
          FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE n.nspname = 'public' AND c.conrelid <> '_sqlx_migrations'::regclass
        UNION ALL
        SELECT 'trigger ' || pg_get_triggerdef(t.oid) AS line FROM pg_trigger t
          JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND NOT t.tgisinternal
        UNION ALL
        SELECT 'function ' || pg_get_functiondef(p.oid) AS line FROM pg_proc p
          JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
        UNION ALL
        SELECT 'type ' || t.typname || ' ' || t.typtype::text AS line FROM pg_type t
          JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typname NOT LIKE '%sqlx%'
        UNION ALL
        SELECT 'relation ' || c.relname || ' ' || c.relkind::text AS line FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relname NOT LIKE '\_sqlx\_migrations%'
        ORDER BY line";
    sqlx::query(query)
        .fetch_all(pool)
        .await
        .expect("schema")
        .iter()
        .map(|row| row.try_get("line").expect("line"))
        .collect()
}

/// Tables of the public schema, apart from the migrations' own.
async fn tables(pool: &PgPool) -> Vec<String> {
    sqlx::query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations'")
        .fetch_all(pool)
        .await
        .expect("tables")
        .iter()
        .map(|row| row.try_get("tablename").expect("tablename"))
        .collect()
}

fn record(jobs: u64) -> serde_json::Value {
    json!({"kind": "queue_time", "period_start": "2024-11-01", "period_end": "2024-12-01",
        "resource": "nvidia-h100-80gb", "region": "us-central", "tier": "newcomer", "jobs": jobs,
        "p50_seconds": 60, "p90_seconds": 120, "p99_seconds": 300})
}

#[tokio::test]
async fn every_down_migration_then_every_up_migration_gives_back_the_same_schema() {
    let app = TestApp::new().await;
    let pool = app.db.pool.clone();
    // Down migrations run over a database holding data, as an operator's would.
    let token = app.provider_token("nimbus-gpu").await;
    app.post("/api/v1/records", "application/json", format!("[{}]", record(5)), Some(&token), &[])
        .await
        .assert_status(StatusCode::CREATED);
    let before = schema(&pool).await;
    for part in ["column ledger_entries.entry ", "index ", "constraint ", "trigger ", "function "] {
        assert!(before.iter().any(|line| line.starts_with(part)), "the schema lists no {part:?}: {before:#?}");
    }

    let downs = MIGRATOR.iter().filter(|m| m.migration_type.is_down_migration()).count();
    let ups = MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).count();
    assert_eq!(downs, ups, "every up migration has its down migration");
    // Target version 0: every applied migration is reverted, newest first.
    MIGRATOR.undo(&pool, 0).await.expect("every down migration runs");
    assert_eq!(tables(&pool).await, Vec::<String>::new(), "the down migrations leave no table behind");
    assert_eq!(super::migration_status(&pool).await.expect("status"), (0, ups));

    MIGRATOR.run(&pool).await.expect("every up migration runs again");
    let after = schema(&pool).await;
    let lost: Vec<_> = before.iter().filter(|line| !after.contains(line)).collect();
    let gained: Vec<_> = after.iter().filter(|line| !before.contains(line)).collect();
    assert!(lost.is_empty() && gained.is_empty(), "schema changed: lost {lost:#?}, gained {gained:#?}");

    // The app works on the rebuilt schema: a new ledger, an append, a page.
    app.ledger().ensure_checkpoint(&pool).await.expect("checkpoint");
    let token = app.provider_token("stratus-gpu").await;
    app.post("/api/v1/records", "application/json", format!("[{}]", record(7)), Some(&token), &[])
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(app.tree_size().await, 1);
    app.get("/providers/stratus-gpu").await.assert_status(StatusCode::OK);
}
