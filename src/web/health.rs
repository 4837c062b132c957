//! Probes for process supervisors and load balancers:
//! `/healthz` says the process is up; `/readyz` that it can serve (database
//! reachable, every migration this binary knows applied).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;
use crate::db;
use crate::error::{ApiError, AppError};

/// Liveness: answers as long as the process does.
pub async fn healthz() -> Response {
    no_store(Json(json!({"status": "ok"})).into_response())
}

/// Readiness: 200 when the database answers and migrations are current, else 503.
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (applied, expected) = db::migration_status(&state.pool)
        .await
        .map_err(|error| AppError::Unavailable(format!("database unreachable: {error}")))?;
    if applied < expected as i64 {
        return Err(AppError::Unavailable(format!("{applied} of {expected} migrations applied")).into());
    }
    Ok(no_store(
        Json(json!({"status": "ready", "database": "ok", "migrations": {"applied": applied, "expected": expected}}))
            .into_response(),
    ))
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn healthz_answers_ok() {
        let app = TestApp::new().await;
        let response = app.get("/healthz").await;
        response.assert_status(StatusCode::OK);
        assert_eq!(response.json()["status"], "ok");
    }

    #[tokio::test]
    async fn readyz_reports_current_migrations() {
        let app = TestApp::new().await;
        let response = app.get("/readyz").await;
        response.assert_status(StatusCode::OK);
        let json = response.json();
        assert_eq!(json["status"], "ready");
        assert_eq!(json["migrations"]["applied"], json["migrations"]["expected"]);
    }

    #[tokio::test]
    async fn readyz_is_503_when_a_migration_is_missing() {
        let app = TestApp::new().await;
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)")
            .execute(&app.db.pool)
            .await
            .expect("forget the newest migration");
        let response = app.get("/readyz").await;
        response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.json()["error"]["code"], "unavailable");
    }

    #[tokio::test]
    async fn readyz_is_503_when_the_database_is_gone() {
        let app = TestApp::new().await;
        app.db.pool.close().await;
        let response = app.get("/readyz").await;
        response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    }
}
