//! Bearer-token authentication for the write API, and the per-token rate limits
//! (providers' and reporters' apart). A request is attributed to the provider or
//! reporter that owns the token; it can never write as another.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::AppState;
use crate::db;
use crate::error::{ApiError, AppError};
use crate::records::Slug;
use crate::tokens;

/// Requests per second each token may make to the write API (sustained), and the burst allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestRate {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests allowed at once.
    pub burst: NonZeroU32,
}

impl Default for IngestRate {
    fn default() -> Self {
        Self { per_second: NonZeroU32::new(10).expect("non-zero"), burst: NonZeroU32::new(30).expect("non-zero") }
    }
}

impl IngestRate {
    /// Reporters' default: 1 request per second, 5 at once (they file a few reports, not telemetry).
    pub const REPORTERS: Self =
        Self { per_second: NonZeroU32::new(1).expect("non-zero"), burst: NonZeroU32::new(5).expect("non-zero") };
}

/// Per-token rate limiter.
#[derive(Debug, Clone)]
pub struct TokenRateLimiter(Arc<DefaultKeyedRateLimiter<String>>);

impl TokenRateLimiter {
    /// A limiter with the given rate.
    pub fn new(rate: IngestRate) -> Self {
        Self(Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_second(rate.per_second).allow_burst(rate.burst))))
    }

    /// Ok, or how many seconds to wait.
    fn check(&self, key: &str) -> Result<(), u64> {
        self.0.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// The provider a valid, unrevoked token belongs to.
#[derive(Debug, Clone)]
pub struct ProviderToken {
    pub provider_id: i64,
    /// Provider slug: the only provider this request may write for (a reporter's own slug
    /// for a reporter token).
    pub provider: Slug,
    /// Whether the token is a reporter's: it files reports only, under reporters' own rate limit.
    pub reporter: bool,
}

impl FromRequestParts<AppState> for ProviderToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let unauthorized = |why: &str| ApiError(AppError::Unauthorized(why.to_owned()));
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing Authorization: Bearer <token> header"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header must be 'Bearer <token>'"))?;
        let public_id = tokens::public_id(token)
            .map_err(|_| unauthorized("malformed token: Gatelog tokens look like gl_<id>_<secret>"))?;
        let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
        let owner = db::tokens::owner(&mut conn, public_id).await.map_err(AppError::from)?;
        // One answer for unknown and wrong tokens, so ids cannot be probed.
        let owner =
            owner.filter(|o| tokens::matches(token, &o.secret_hash)).ok_or_else(|| unauthorized("unknown token"))?;
        if owner.revoked {
            return Err(unauthorized("this token has been revoked"));
        }
        let limiter = if owner.reporter { &state.report_limiter } else { &state.ingest_limiter };
        limiter.check(public_id).map_err(|seconds| ApiError(AppError::RateLimited(seconds.max(1))))?;
        Ok(Self { provider_id: owner.provider_id, provider: owner.provider, reporter: owner.reporter })
    }
}
