//! Server-side request forgery guard for webhook and SMS gateway URLs.
//!
//! A merchant chooses the URL, the server calls it: without a guard a merchant could make the
//! server call its own loopback, the cluster's private network or a cloud metadata service.
//! So URLs must be `https://` with a public host, checked when saved, and the addresses are
//! checked again at delivery time by the HTTP client's resolver ([`PublicResolver`]): the
//! connection goes only to the addresses that passed, so a DNS answer that changes between the
//! check and the connection (DNS rebinding) gains nothing. Redirects are never followed. The
//! operator may allow private targets (`FLOORWALKER_ALLOW_PRIVATE_WEBHOOKS=1`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// documentation, multicast or reserved; IPv4 embedded in IPv6 is judged as IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7 (includes fd00:ec2::254)
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
                || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0)) // discard 100::/64
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, the cloud metadata address among them
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64/10 (carrier NAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments 192.0.0/24
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240) // reserved 240/4
}

/// The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible, NAT64
/// (64:ff9b::/96) or 6to4 (2002::/16) IPv6 address.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[0..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
        return Some(tail);
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    None
}

/// Check a URL a merchant gives for webhooks or an SMS gateway; the message says what is wrong.
pub fn check_url(raw: &str, allow_private: bool) -> Result<url::Url, &'static str> {
    let u = url::Url::parse(raw.trim()).map_err(|_| "must be an absolute URL")?;
    match u.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("must start with https://"),
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not contain a user name or password");
    }
    if u.fragment().is_some() {
        return Err("must not contain a #fragment");
    }
    if raw.len() > 1000 {
        return Err("must be at most 1000 characters");
    }
    match u.host() {
        None => return Err("must name a host"),
        Some(url::Host::Ipv4(ip)) if !allow_private && !is_public(IpAddr::V4(ip)) => {
            return Err("must be a public address (not loopback, private or link-local)")
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && !is_public(IpAddr::V6(ip)) => {
            return Err("must be a public address (not loopback, private or link-local)")
        }
        Some(url::Host::Domain(d)) if !allow_private && (d == "localhost" || d.ends_with(".localhost") || !d.contains('.')) => {
            return Err("must be a public host name")
        }
        _ => {}
    }
    Ok(u)
}

/// Before a request: a URL whose host is an IP literal is checked here (the resolver is not
/// asked for those); host names are checked by [`PublicResolver`].
pub fn check_literal(u: &url::Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let ip = match u.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(format!("refused: {ip} is not a public address"))
    }
}

/// A DNS resolver for reqwest that answers only public addresses (all of them, unless private
/// targets are allowed); a name with none fails the request before any connection.
#[derive(Debug, Clone)]
pub struct PublicResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| allow_private || is_public(a.ip())).collect();
            if allowed.is_empty() {
                let why: Box<dyn std::error::Error + Send + Sync> = if found.is_empty() {
                    format!("{host} has no address").into()
                } else {
                    format!("refused: {host} resolves to a non-public address").into()
                };
                return Err(why);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:0101::1",
            "2001:db8::1",
        ] {
            assert!(!public(s), "{s} must not count as public");
        }
        for s in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(public(s), "{s} is public");
        }
    }

    #[test]
    fn urls_are_https_and_public_unless_allowed() {
        assert!(check_url("https://hooks.example.com/fw", false).is_ok());
        assert_eq!(
            check_url("http://hooks.example.com/fw", false).unwrap_err(),
            "must start with https://"
        );
        assert!(check_url("https://127.0.0.1/x", false).is_err());
        assert!(check_url("https://[::1]/x", false).is_err());
        assert!(check_url("https://localhost/x", false).is_err());
        assert!(check_url("https://user:pw@hooks.example.com/", false).is_err());
        assert!(check_url("ftp://hooks.example.com/", true).is_err());
        assert!(check_url("http://127.0.0.1:9000/x", true).is_ok());
        let u = url::Url::parse("https://169.254.169.254/latest").unwrap();
        assert!(check_literal(&u, false).is_err());
        assert!(check_literal(&u, true).is_ok());
    }
}
