//! Where a request comes from: [`ClientIp`] and [`TrustedProxies`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use auth_core::{ClientInfo, ConfigError};
use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, HeaderName, header};

/// How the client's address is found: the per-address rate limits and the session list
/// use it.
///
/// By default ([`ClientIp::connection`]) it is the peer address of the TCP connection,
/// from axum's [`ConnectInfo<SocketAddr>`]: serve the app with
/// `into_make_service_with_connect_info::<SocketAddr>()`. Without it the address is
/// unknown (per-address limits then do not apply in the service, and
/// [`RateLimitLayer`](crate::RateLimitLayer) counts every such request on one shared key).
/// `X-Forwarded-For` is ignored.
///
/// Behind a reverse proxy, every connection comes from the proxy: opt in with
/// [`ClientIp::behind_proxies`]. `X-Forwarded-For` is then read only when the connection
/// comes from a trusted proxy, from right to left, skipping trusted proxies; the first
/// address that is not one is the client. An entry that is not an IP address stops the
/// walk (the last trusted hop is used). A client cannot forge its address this way: it can
/// only prepend entries, which are never reached.
#[derive(Debug, Clone, Default)]
pub struct ClientIp {
    proxies: Option<Arc<TrustedProxies>>,
}

impl ClientIp {
    /// The connection's peer address; `X-Forwarded-For` ignored (the default).
    pub fn connection() -> Self {
        Self::default()
    }

    /// Trusts `X-Forwarded-For` from these proxies (see above).
    pub fn behind_proxies(proxies: TrustedProxies) -> Self {
        Self {
            proxies: Some(Arc::new(proxies)),
        }
    }

    /// The client's address for a request with these extensions and headers.
    pub fn resolve(&self, extensions: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_canonical())?;
        let Some(proxies) = &self.proxies else {
            return Some(peer);
        };
        if !proxies.contains(peer) {
            return Some(peer);
        }
        let forwarded: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for entry in forwarded.iter().rev() {
            match parse_forwarded(entry) {
                Some(ip) => {
                    client = ip;
                    if !proxies.contains(ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        Some(client)
    }

    /// The [`ClientInfo`] of a request: the address as above and the `User-Agent`.
    pub fn client_info(&self, extensions: &Extensions, headers: &HeaderMap) -> ClientInfo {
        let mut info = ClientInfo::none();
        if let Some(ip) = self.resolve(extensions, headers) {
            info = info.with_ip(ip);
        }
        if let Some(agent) = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
        {
            info = info.with_user_agent(agent);
        }
        info
    }
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// An address of `X-Forwarded-For`: `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:5678`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    entry
        .parse::<SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

/// The reverse proxies whose `X-Forwarded-For` is believed: addresses and CIDR networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses a comma-separated list such as `"127.0.0.1, 10.0.0.0/8, fd00::/8"` (an
    /// environment variable, for example). Empty entries are skipped.
    pub fn parse(list: &str) -> Result<Self, ConfigError> {
        let mut networks = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            networks.push(parse_network(entry).ok_or_else(|| ConfigError::Invalid {
                setting: "trusted_proxies",
                reason: format!("`{entry}` is not an IP address or a CIDR network"),
            })?);
        }
        Ok(Self { networks })
    }

    /// True if `ip` is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks
            .iter()
            .any(|(net, prefix)| in_network(ip, *net, *prefix))
    }
}

fn parse_network(entry: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match entry.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().ok()?)),
        None => (entry, None),
    };
    let addr = addr.parse::<IpAddr>().ok()?.to_canonical();
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some((addr, prefix))
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request(peer: &str, forwarded: &[&str]) -> (Extensions, HeaderMap) {
        let mut ext = Extensions::new();
        ext.insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
        let mut headers = HeaderMap::new();
        for f in forwarded {
            headers.append(&X_FORWARDED_FOR, HeaderValue::from_str(f).unwrap());
        }
        (ext, headers)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn forwarded_for_is_ignored_by_default() {
        let (ext, headers) = request("203.0.113.9", &["198.51.100.1"]);
        assert_eq!(
            ClientIp::connection().resolve(&ext, &headers),
            ip("203.0.113.9")
        );
        assert_eq!(
            ClientIp::connection().resolve(&Extensions::new(), &headers),
            None
        );
    }

    #[test]
    fn forwarded_for_is_walked_from_the_right_past_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        let c = ClientIp::behind_proxies(proxies);
        // A spoofed left-most entry is never reached.
        let (ext, headers) = request("10.0.0.1", &["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(c.resolve(&ext, &headers), ip("198.51.100.7"));
        // Not from a trusted proxy: the header is not believed.
        let (ext, headers) = request("203.0.113.9", &["198.51.100.7"]);
        assert_eq!(c.resolve(&ext, &headers), ip("203.0.113.9"));
        // Garbage stops the walk at the last trusted hop.
        let (ext, headers) = request("127.0.0.1", &["198.51.100.7, nonsense, 10.9.9.9"]);
        assert_eq!(c.resolve(&ext, &headers), ip("10.9.9.9"));
        // Ports and IPv6 brackets.
        let (ext, headers) = request("::ffff:127.0.0.1", &["[2001:db8::1]:443"]);
        assert_eq!(c.resolve(&ext, &headers), ip("2001:db8::1"));
        let (ext, headers) = request("127.0.0.1", &["192.0.2.1:80"]);
        assert_eq!(c.resolve(&ext, &headers), ip("192.0.2.1"));
        // No header: the proxy itself.
        let (ext, headers) = request("127.0.0.1", &[]);
        assert_eq!(c.resolve(&ext, &headers), ip("127.0.0.1"));
    }

    #[test]
    fn networks_parse_and_match() {
        let p = TrustedProxies::parse("192.168.0.0/16,fd00::/8, ::1,0.0.0.0/0").unwrap();
        assert!(p.contains("192.168.5.5".parse().unwrap()));
        assert!(p.contains("fd12::1".parse().unwrap()));
        assert!(p.contains("::1".parse().unwrap()));
        assert!(p.contains("8.8.8.8".parse().unwrap()));
        let p = TrustedProxies::parse("192.168.0.0/16").unwrap();
        assert!(!p.contains("192.169.0.1".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            let err = TrustedProxies::parse(bad).unwrap_err();
            assert!(err.to_string().contains("trusted_proxies"), "{err}");
        }
        assert_eq!(
            TrustedProxies::parse(" , ").unwrap(),
            TrustedProxies::default()
        );
    }
}
