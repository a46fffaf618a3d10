//! STUN/TURN servers for video calls, as the browsers' `RTCPeerConnection` wants them.
//!
//! `FLOORWALKER_ICE_SERVERS` lists them, either as JSON (`[{"urls": "stun:stun.example:3478"},
//! {"urls": ["turn:turn.example:3478?transport=udp"], "username": "u", "credential": "p"}]`) or
//! as comma-separated URLs. Nothing set means no servers: two browsers on one network reach
//! each other by their local addresses. With `FLOORWALKER_TURN_SECRET` (coturn's
//! `static-auth-secret`), each client gets its own TURN credentials valid for
//! [`TURN_TTL_S`] ("TURN REST API": user `expiry:who`, password base64 HMAC-SHA1), so no
//! long-lived TURN password is ever handed to a browser.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

/// How long generated TURN credentials last (a long call keeps refreshing its allocation).
pub const TURN_TTL_S: i64 = 6 * 3600;

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IceServer {
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("credential", &self.credential.as_ref().map(|_| "***"))
            .finish()
    }
}

/// What `GET …/rtc-config` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RtcConfigView {
    pub ice_servers: Vec<IceServer>,
}

/// The configured servers and, optionally, the TURN secret.
#[derive(Clone, Debug, Default)]
pub struct RtcConfig {
    servers: Vec<IceServer>,
    turn_secret: Option<Secret>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Urls {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct RawServer {
    urls: Urls,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    credential: Option<String>,
}

impl RtcConfig {
    /// Parse `FLOORWALKER_ICE_SERVERS` (JSON or comma-separated URLs).
    pub fn parse(servers: Option<&str>, turn_secret: Option<Secret>) -> Result<RtcConfig, String> {
        let text = servers.map(str::trim).unwrap_or("");
        let servers = if text.is_empty() {
            Vec::new()
        } else if text.starts_with('[') {
            let raw: Vec<RawServer> =
                serde_json::from_str(text).map_err(|e| format!("FLOORWALKER_ICE_SERVERS is not a JSON list of ICE servers: {e}"))?;
            raw.into_iter()
                .map(|r| IceServer {
                    urls: match r.urls {
                        Urls::One(u) => vec![u],
                        Urls::Many(v) => v,
                    },
                    username: r.username,
                    credential: r.credential,
                })
                .collect()
        } else {
            text.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(|u| IceServer {
                    urls: vec![u.to_owned()],
                    username: None,
                    credential: None,
                })
                .collect()
        };
        for s in &servers {
            if s.urls.is_empty() {
                return Err("an ICE server needs at least one URL".into());
            }
            for u in &s.urls {
                if !["stun:", "stuns:", "turn:", "turns:"].iter().any(|p| u.starts_with(p)) || u.len() > 300 {
                    return Err(format!("{u:?} is not a stun:, stuns:, turn: or turns: URL"));
                }
            }
        }
        Ok(RtcConfig { servers, turn_secret })
    }

    /// The servers for one client (`who` names it in generated TURN user names).
    pub fn for_client(&self, who: &str, now_s: i64) -> RtcConfigView {
        let ice_servers = self
            .servers
            .iter()
            .map(|s| {
                let mut s = s.clone();
                let turn = s.urls.iter().any(|u| u.starts_with("turn"));
                if let (true, None, Some(secret)) = (turn, &s.username, &self.turn_secret) {
                    let user = format!("{}:{who}", now_s + TURN_TTL_S);
                    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.expose().as_bytes()).expect("any key length");
                    mac.update(user.as_bytes());
                    s.credential = Some(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
                    s.username = Some(user);
                }
                s
            })
            .collect();
        RtcConfigView { ice_servers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_plain_lists() {
        let c = RtcConfig::parse(None, None).unwrap();
        assert!(c.for_client("x", 0).ice_servers.is_empty(), "nothing configured, nothing served");
        let c = RtcConfig::parse(Some("stun:a.example:3478, turn:b.example:3478"), None).unwrap();
        assert_eq!(c.for_client("x", 0).ice_servers.len(), 2);
        let c = RtcConfig::parse(
            Some(r#"[{"urls":"stun:a.example"},{"urls":["turn:b.example"],"username":"u","credential":"p"}]"#),
            None,
        )
        .unwrap();
        let v = c.for_client("x", 0).ice_servers;
        assert_eq!(v[1].credential.as_deref(), Some("p"));
        assert!(!format!("{c:?}").contains("\"p\""), "credentials never print");
        assert!(RtcConfig::parse(Some("http://a.example"), None).is_err());
        assert!(RtcConfig::parse(Some("[{"), None).is_err());
    }

    #[test]
    fn turn_secret_makes_time_limited_credentials() {
        // The coturn documentation's construction: user "expiry:who", password
        // base64(HMAC-SHA1(secret, user)).
        let c = RtcConfig::parse(Some("turn:t.example:3478,stun:s.example"), Some(Secret::new("north"))).unwrap();
        let v = c.for_client("e.42", 1_000).ice_servers;
        assert_eq!(v[0].username.as_deref(), Some("22600:e.42"));
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"north").unwrap();
        mac.update(b"22600:e.42");
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(v[0].credential.as_deref(), Some(want.as_str()));
        assert!(v[1].username.is_none(), "STUN needs no credentials");
    }
}
