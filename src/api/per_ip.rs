//! A per-client-address rate limit on every request (readers included), so one
//! address cannot take the site for itself: beyond it, 429 with `Retry-After`.
//! It needs the peer address (`serve` provides it); behind a reverse proxy every
//! request comes from the proxy, so set the rate to 0 there and limit at the proxy.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Requests per second each address may sustain, and its burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerIpRate {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests allowed at once.
    pub burst: NonZeroU32,
}

/// The limiter, keyed by client address.
#[derive(Debug, Clone)]
pub struct PerIpLimiter(Arc<DefaultKeyedRateLimiter<IpAddr>>);

impl PerIpLimiter {
    /// A limiter with the given rate.
    pub fn new(rate: PerIpRate) -> Self {
        Self(Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_second(rate.per_second).allow_burst(rate.burst))))
    }

    /// Ok, or how many seconds to wait.
    fn check(&self, address: IpAddr) -> Result<(), u64> {
        self.0.check_key(&address).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// Middleware: 429 with `Retry-After` for an address over its rate. Requests without a
/// peer address (in-process tests, benchmarks) are not limited.
pub async fn limit(State(limiter): State<PerIpLimiter>, request: Request, next: Next) -> Response {
    let extensions = request.extensions();
    // `MockConnectInfo` stands in for the peer address in tests of the router.
    let address = extensions
        .get::<ConnectInfo<crate::server::PeerAddr>>()
        .map(|ConnectInfo(peer)| peer.0.ip())
        .or_else(|| extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
        .or_else(|| extensions.get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>().map(|m| m.0.ip()));
    if let Some(address) = address
        && let Err(wait) = limiter.check(address)
    {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many requests from your address; retry in {} s.", wait.max(1)),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&wait.max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::Router;
    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn an_address_over_its_rate_waits_and_others_do_not() {
        let limiter = PerIpLimiter::new(PerIpRate {
            per_second: NonZeroU32::new(1).expect("rate"),
            burst: NonZeroU32::new(2).expect("burst"),
        });
        let request = || Request::get("/").body(Body::empty()).expect("request");
        let busy = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(limiter.clone(), limit))
            .layer(MockConnectInfo("203.0.113.7:5000".parse::<SocketAddr>().expect("address")));
        let other = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(limiter, limit))
            .layer(MockConnectInfo("198.51.100.9:5000".parse::<SocketAddr>().expect("address")));
        for _ in 0..2 {
            assert_eq!(busy.clone().oneshot(request()).await.expect("response").status(), StatusCode::OK);
        }
        let refused = busy.oneshot(request()).await.expect("response");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        assert_eq!(other.oneshot(request()).await.expect("response").status(), StatusCode::OK, "another address");
    }
}
