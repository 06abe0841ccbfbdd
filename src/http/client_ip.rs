//! The client's address, for throttling and the audit log, on both front
//! doors.
//!
//! By default it is the connection's peer address: `X-Forwarded-For` is
//! trusted only from proxies named with `--trusted-proxy CIDR`, because any
//! client could write one to dodge the sign-in throttle or forge the audit
//! log. From a trusted proxy, the header is read from the right (each proxy
//! appends the address it saw), skipping trusted proxies; the first address
//! that is not one is the client.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// The address `resolve` settled on, kept in the request's extensions.
#[derive(Debug, Clone, Copy)]
struct Resolved(IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<Resolved>()
            .map(|Resolved(ip)| *ip)
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| addr.ip())
            });
        Ok(ClientIp(ip.map_or_else(
            || "unknown".to_string(),
            |ip| ip.to_string(),
        )))
    }
}

/// Middleware: works out the client's address once per request.
pub async fn resolve(
    State(trusted): State<Arc<Vec<IpNet>>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        let ip = client_address(peer.ip(), req.headers(), &trusted);
        req.extensions_mut().insert(Resolved(ip));
    }
    next.run(req).await
}

/// The client behind `peer`, given the proxies trusted to say who it is.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // Garbage in the chain: nothing to its left can be believed, so the
        // last address a trusted proxy vouched for stands.
        let Ok(ip) = hop.parse::<IpAddr>() else {
            return client;
        };
        client = canonical(ip);
        if !is_trusted(&client) {
            return client;
        }
    }
    client
}

/// IPv4 written as IPv6 (`::ffff:192.0.2.1`, from a dual-stack socket) is
/// the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let h = with_xff(&["203.0.113.9"]);
        // Not from a trusted proxy: the peer, whatever the header says.
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(client_address(ip("10.1.2.3"), &h, &[]), ip("10.1.2.3"));
        // From one: the address it saw.
        assert_eq!(
            client_address(ip("10.1.2.3"), &h, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(client_address(ip("::1"), &h, &trusted), ip("203.0.113.9"));
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("10.1.2.3"), &HeaderMap::new(), &trusted),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn the_chain_is_read_from_the_right_past_trusted_hops() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("10.0.0.1");
        // The client wrote a forged first entry; the proxies appended theirs.
        let h = with_xff(&["6.6.6.6, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(client_address(peer, &h, &trusted), ip("203.0.113.9"));
        // Every hop trusted: the leftmost.
        let h = with_xff(&["10.0.0.7, 10.0.0.2"]);
        assert_eq!(client_address(peer, &h, &trusted), ip("10.0.0.7"));
        // Garbage stops the walk at the last vouched-for address.
        let h = with_xff(&["203.0.113.9, not-an-ip, 10.0.0.2"]);
        assert_eq!(client_address(peer, &h, &trusted), ip("10.0.0.2"));
        // IPv4-mapped IPv6 is IPv4.
        let h = with_xff(&["::ffff:203.0.113.9"]);
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &h, &trusted),
            ip("203.0.113.9")
        );
    }
}
