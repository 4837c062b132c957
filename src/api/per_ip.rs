//! A per-client-address rate limit on every request (readers included), so one
//! address cannot take the site for itself: beyond it, 429 with `Retry-After`.
//! It needs the peer address (`serve` provides it); behind a reverse proxy every
//! request comes from the proxy, so set the rate to 0 there and limit at the proxy.
//!
//! An IPv6 client is keyed by its /64 prefix: one subscriber usually holds a whole /64
//! (RFC 6177), so keying single addresses would let it rotate through 2^64 buckets.
//! Memory stays bounded: every [`PRUNE_EVERY`] requests the addresses whose bucket is
//! full again (idle for a burst's worth of time) are dropped, as a fresh bucket would
//! treat them the same.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::AppError;
use crate::net::PeerAddr;

/// Requests per second each address may sustain, and its burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerIpRate {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests allowed at once.
    pub burst: NonZeroU32,
}

/// Requests between two prunings of idle addresses: the map holds at most the addresses
/// active within one burst's time, plus this many.
pub const PRUNE_EVERY: u64 = 1024;

/// The limiter, keyed by [`client_key`].
#[derive(Debug, Clone)]
pub struct PerIpLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    checks: Arc<AtomicU64>,
}

/// What an address is limited as: an IPv4 address (IPv4-mapped IPv6 included) as
/// itself, any other IPv6 address as its /64 prefix.
pub fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

impl PerIpLimiter {
    /// A limiter with the given rate.
    pub fn new(rate: PerIpRate) -> Self {
        let quota = Quota::per_second(rate.per_second).allow_burst(rate.burst);
        Self { limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)), checks: Arc::new(AtomicU64::new(0)) }
    }

    /// Ok, or how many seconds to wait.
    fn check(&self, address: IpAddr) -> Result<(), u64> {
        if (self.checks.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(PRUNE_EVERY) {
            self.prune();
        }
        self.limiter.check_key(&client_key(address)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets the addresses idle long enough that their bucket is full again, and
    /// gives the freed memory back.
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Client keys held now.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Whether no client key is held.
    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

/// Middleware: 429 with `Retry-After` for an address over its rate (rendered for the
/// URL's audience by `crate::web::errors::render_for_audience`). Requests without a
/// peer address (in-process tests, benchmarks) are not limited.
pub async fn limit(State(limiter): State<PerIpLimiter>, request: Request, next: Next) -> Response {
    let extensions = request.extensions();
    // `MockConnectInfo` stands in for the peer address in tests of the router.
    let address = extensions
        .get::<ConnectInfo<PeerAddr>>()
        .map(|ConnectInfo(peer)| peer.0.ip())
        .or_else(|| extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
        .or_else(|| extensions.get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>().map(|m| m.0.ip()));
    if let Some(address) = address
        && let Err(wait) = limiter.check(address)
    {
        return AppError::AddressRateLimited(wait.max(1)).into_response();
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

    fn limiter(per_second: u32, burst: u32) -> PerIpLimiter {
        PerIpLimiter::new(PerIpRate {
            per_second: NonZeroU32::new(per_second).expect("rate"),
            burst: NonZeroU32::new(burst).expect("burst"),
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_and_mapped_ipv4_is_ipv4() {
        let limiter = limiter(1, 2);
        assert!(limiter.check(ip("2001:db8:1:2::1")).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2:ffff:ffff:ffff:fffe")).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2:abcd::7")).is_err(), "a third address of the same /64 is over");
        assert!(limiter.check(ip("2001:db8:1:3::1")).is_ok(), "the next /64 is another client");
        assert_eq!(limiter.len(), 2);

        assert!(limiter.check(ip("203.0.113.7")).is_ok());
        assert!(limiter.check(ip("::ffff:203.0.113.7")).is_ok());
        assert!(limiter.check(ip("203.0.113.7")).is_err(), "IPv4-mapped IPv6 is the same IPv4 client");
        assert!(limiter.check(ip("203.0.113.8")).is_ok(), "IPv4 addresses are each their own client");
        assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }

    #[test]
    fn idle_addresses_are_pruned_and_busy_ones_kept() {
        // A burst of 1 at 10/s: a bucket is full again 100 ms after its last request.
        let limiter = limiter(10, 1);
        for i in 0..500u32 {
            assert!(limiter.check(IpAddr::V4(i.into())).is_ok());
        }
        assert_eq!(limiter.len(), 500);
        std::thread::sleep(std::time::Duration::from_millis(300));
        // One address keeps sending; its bucket is not full again yet.
        let busy = ip("198.51.100.1");
        while limiter.check(busy).is_ok() {}
        limiter.prune();
        assert_eq!(limiter.len(), 1, "only the busy address is left");
        assert!(limiter.check(busy).is_err(), "pruning does not reset a busy address");
    }

    #[test]
    fn the_limiter_prunes_by_itself_so_a_spray_of_addresses_stays_bounded() {
        let limiter = limiter(1000, 1);
        // Many /64s, as one holder of a /48 could send from, each once and then idle.
        let address = |i: u64| IpAddr::V6(Ipv6Addr::from((0x2001_0db8_0000_0000_u128 + u128::from(i)) << 64));
        for round in 0..4 {
            for i in 0..PRUNE_EVERY {
                let _ = limiter.check(address(round * PRUNE_EVERY + i));
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // 4096 distinct clients were seen; at most the last round's are held.
        assert!(limiter.len() <= PRUNE_EVERY as usize, "{} keys held", limiter.len());
    }
}
