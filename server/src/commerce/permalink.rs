//! UCP permalinks (`dev.ucp.shopping.permalink`, see docs/commerce.md and the UCP permalink
//! chapter): discovering a shop's endpoint and building `ENDPOINT/{items}?{query}`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;

pub const CAPABILITY: &str = "dev.ucp.shopping.permalink";

/// An item identifier as a path-safe item-id token: as is when it matches
/// `^[A-Za-z0-9._-]+$`, else `~` + base64url (no padding) of its UTF-8.
pub fn item_token(id: &str) -> String {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        id.to_owned()
    } else {
        format!("~{}", B64.encode(id.as_bytes()))
    }
}

/// The identifier a token stands for (the business side: the sample shop uses it). Refuses
/// non-canonical base64url, invalid UTF-8 and control characters, as the spec requires.
pub fn decode_item_token(token: &str) -> Option<String> {
    match token.strip_prefix('~') {
        Some(rest) => {
            let bytes = B64.decode(rest).ok()?;
            if B64.encode(&bytes) != rest {
                return None;
            }
            let s = String::from_utf8(bytes).ok()?;
            (!s.is_empty() && !s.chars().any(char::is_control)).then_some(s)
        }
        None => (!token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
            .then(|| token.to_owned()),
    }
}

/// Parse a compact item path `a:2,b:1` into (identifier, quantity) pairs.
pub fn parse_items(path: &str) -> Option<Vec<(String, u32)>> {
    path.split(',')
        .map(|pair| {
            let (tok, qty) = pair.rsplit_once(':')?;
            if qty.is_empty() || qty.starts_with('0') || !qty.bytes().all(|b| b.is_ascii_digit()) || qty.len() > 6 {
                return None;
            }
            Some((decode_item_token(tok)?, qty.parse().ok()?))
        })
        .collect()
}

/// Whether `endpoint` is what the spec allows: absolute https with a host, no userinfo, query,
/// fragment, whitespace, backslash or trailing slash. (`http://localhost` and `127.0.0.1` pass
/// for development and tests when `allow_loopback`.)
pub fn valid_endpoint(endpoint: &str, allow_loopback: bool) -> bool {
    if endpoint.contains(|c: char| c.is_whitespace() || c == '\\') || endpoint.ends_with('/') || endpoint.len() > 1000 {
        return false;
    }
    let Ok(u) = url::Url::parse(endpoint) else { return false };
    let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1"));
    (u.scheme() == "https" || (allow_loopback && loopback && u.scheme() == "http"))
        && u.host_str().is_some_and(|h| !h.is_empty())
        && u.username().is_empty()
        && u.password().is_none()
        && u.query().is_none()
        && u.fragment().is_none()
}

/// The endpoint a `/.well-known/ucp` profile declares for the permalink capability.
pub fn endpoint_from_profile(profile: &serde_json::Value) -> Option<String> {
    let caps = profile.get("ucp")?.get("capabilities")?.get(CAPABILITY)?;
    let first = match caps {
        serde_json::Value::Array(a) => a.first()?,
        v @ serde_json::Value::Object(_) => v,
        _ => return None,
    };
    first.get("config")?.get("endpoint")?.as_str().map(str::to_owned)
}

/// `ENDPOINT/{items}?{query}`: items as `token:qty` joined by `,`; the query's names are UCP
/// field paths (`buyer/email`, `attribution/…`), names and values percent-encoded.
pub fn build(endpoint: &str, items: &[(&str, i64)], query: &[(&str, &str)]) -> String {
    let path = items
        .iter()
        .map(|(id, q)| format!("{}:{q}", item_token(id)))
        .collect::<Vec<_>>()
        .join(",");
    let mut url = format!("{endpoint}/{path}");
    if !query.is_empty() {
        let q = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode_name(k), encode_value(v)))
            .collect::<Vec<_>>()
            .join("&");
        url.push('?');
        url.push_str(&q);
    }
    url
}

/// A field path keeps its `/` separators (the spec's examples write `buyer/email=`).
fn encode_name(s: &str) -> String {
    s.split('/').map(encode_value).collect::<Vec<_>>().join("/")
}

/// RFC 3986 unreserved characters as they are, everything else percent-encoded.
fn encode_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_tokens_follow_the_spec_examples() {
        assert_eq!(item_token("sku_123"), "sku_123");
        assert_eq!(
            item_token("gid://shopify/ProductVariant/70881412"),
            "~Z2lkOi8vc2hvcGlmeS9Qcm9kdWN0VmFyaWFudC83MDg4MTQxMg"
        );
        assert_eq!(
            decode_item_token("~Z2lkOi8vc2hvcGlmeS9Qcm9kdWN0VmFyaWFudC83MDg4MTQxMg").as_deref(),
            Some("gid://shopify/ProductVariant/70881412")
        );
        // Anything outside the raw grammar is encoded: / : , % ~ whitespace, non-ASCII.
        for id in ["a/b", "a:b", "a,b", "50%", "~x", "a b", "kaffe-bryggare-åäö"] {
            let t = item_token(id);
            assert!(t.starts_with('~'), "{id} → {t}");
            assert_eq!(decode_item_token(&t).as_deref(), Some(id));
        }
        assert_eq!(decode_item_token("~Zm9v="), None, "padding is not canonical");
        assert_eq!(decode_item_token("~AA"), None, "a control character");
        assert_eq!(decode_item_token("a%2Fb"), None);
    }

    #[test]
    fn permalinks_are_built_as_the_spec_shows() {
        assert_eq!(
            build("https://merchant.example/buy", &[("sku_123", 2), ("sku_456", 1)], &[]),
            "https://merchant.example/buy/sku_123:2,sku_456:1"
        );
        let url = build(
            "https://merchant.example/buy",
            &[("gid://shopify/ProductVariant/70881412", 1)],
            &[("buyer/email", "alice@example.com"), ("attribution/utm_source", "social")],
        );
        assert_eq!(
            url,
            "https://merchant.example/buy/~Z2lkOi8vc2hvcGlmeS9Qcm9kdWN0VmFyaWFudC83MDg4MTQxMg:1?buyer/email=alice%40example.com&attribution/utm_source=social"
        );
        assert_eq!(
            parse_items("sku_123:2,~Z2lkOi8vc2hvcGlmeS9Qcm9kdWN0VmFyaWFudC83MDg4MTQxMg:1"),
            Some(vec![("sku_123".into(), 2), ("gid://shopify/ProductVariant/70881412".into(), 1)])
        );
        assert_eq!(parse_items("sku:0"), None, "quantity is positive");
        assert_eq!(parse_items("sku:02"), None, "no leading zeros");
    }

    #[test]
    fn endpoints_are_checked_and_discovered() {
        assert!(valid_endpoint("https://merchant.example/buy", false));
        assert!(!valid_endpoint("https://merchant.example/buy/", false));
        assert!(!valid_endpoint("https://merchant.example/buy?x=1", false));
        assert!(!valid_endpoint("https://u:p@merchant.example/buy", false));
        assert!(!valid_endpoint("http://merchant.example/buy", true));
        assert!(valid_endpoint("http://127.0.0.1:8080/shop/buy", true));
        assert!(!valid_endpoint("http://127.0.0.1:8080/shop/buy", false));
        let profile = serde_json::json!({"ucp": {"version": "2026-01-11", "capabilities": {CAPABILITY: [
            {"version": "2026-01-11", "config": {"endpoint": "https://merchant.example/buy"}}]}}});
        assert_eq!(endpoint_from_profile(&profile).as_deref(), Some("https://merchant.example/buy"));
        assert_eq!(endpoint_from_profile(&serde_json::json!({"ucp": {}})), None);
    }
}
