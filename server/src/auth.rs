//! Passwords, tokens and login throttling.
//!
//! - Passwords: Argon2id (OWASP parameters), hashed and verified on the blocking pool so a
//!   burst of logins cannot stall the async workers.
//! - Unknown user and wrong password take the same path: an unknown email is verified against
//!   a fixed dummy hash, so both answers cost one Argon2 verification.
//! - Tokens (sessions, store-app tokens, API keys) are 256 random bits; the database keeps only
//!   their SHA-256, so a leaked database does not leak live credentials.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

/// Argon2 runs at most this many at once. Each takes 19 MiB and ~50 ms of a core; without a
/// bound, a burst of 300 sign-ins put 300 of them on the blocking pool at once (5+ GiB of
/// memory, every core busy for seconds). Waiting callers queue here, asynchronously.
fn argon2_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        tokio::sync::Semaphore::new(cores.clamp(1, 8))
    })
}

fn argon2() -> Argon2<'static> {
    // Argon2id v19, m = 19 MiB, t = 2, p = 1: the OWASP recommendation.
    Argon2::default()
}

/// Hash a password (on the blocking pool).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    let _slot = argon2_slots().acquire().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"floorwalker-dummy-password", &salt)
            .expect("hash")
            .to_string()
    })
}

/// Verify `password` against `hash`, or against a dummy hash when there is no such user, so
/// that "no such user" and "wrong password" cost the same. Returns true only for a real match.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    let real = hash.is_some();
    let Ok(_slot) = argon2_slots().acquire().await else { return false };
    let ok = tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        match PasswordHash::new(&hash) {
            Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    })
    .await
    .unwrap_or(false);
    ok && real
}

/// Warm the dummy hash at start-up so the first unknown-user login is not cheaper.
pub fn init() {
    let _ = dummy_hash();
}

/// A new random token with a readable prefix, e.g. `fws_…` for sessions.
pub fn new_token(prefix: &str) -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The form in which tokens are stored and looked up.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub const SESSION_PREFIX: &str = "fws_";
pub const EXPERT_TOKEN_PREFIX: &str = "fwe_";
pub const API_KEY_PREFIX: &str = "fwk_";

/// Dashboard sessions last 12 hours; store-app tokens 30 days (a phone stays signed in).
pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;
pub const EXPERT_TOKEN_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// Login throttling by account email and by client address: per node in memory (GCRA), and,
/// with Redis, across all nodes (fixed one-minute windows), so adding nodes does not multiply
/// the attempts an attacker gets.
#[derive(Clone)]
pub struct LoginThrottle {
    by_email: Arc<DefaultKeyedRateLimiter<String>>,
    by_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    per_minute: u64,
    redis: Option<redis::aio::ConnectionManager>,
}

impl LoginThrottle {
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute.max(1)).expect("non-zero");
        let ip_rate = NonZeroU32::new(per_minute.get().saturating_mul(4)).expect("non-zero");
        LoginThrottle {
            by_email: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            by_ip: Arc::new(RateLimiter::keyed(Quota::per_minute(ip_rate))),
            per_minute: u64::from(per_minute.get()),
            redis: None,
        }
    }

    /// Count attempts cluster-wide in Redis as well.
    pub fn with_redis(mut self, conn: redis::aio::ConnectionManager) -> Self {
        self.redis = Some(conn);
        self
    }

    /// `Ok` when the attempt may proceed, or the seconds to wait.
    pub async fn check(&self, email: &str, ip: IpAddr) -> Result<(), u64> {
        self.check_local(email, ip)?;
        let Some(conn) = &self.redis else { return Ok(()) };
        let now = crate::now_ms();
        let minute = now / 60_000;
        let wait = (60 - (now / 1000) % 60).max(1) as u64;
        let k_ip = format!("fw:throttle:ip:{ip}:{minute}");
        let k_key = format!("fw:throttle:key:{}:{minute}", token_hash(email));
        let mut c = conn.clone();
        let counts: redis::RedisResult<(u64, u64)> = redis::pipe()
            .atomic()
            .incr(&k_ip, 1)
            .expire(&k_ip, 120)
            .ignore()
            .incr(&k_key, 1)
            .expire(&k_key, 120)
            .ignore()
            .query_async(&mut c)
            .await;
        match counts {
            Ok((ip_n, key_n)) if ip_n > self.per_minute * 4 || key_n > self.per_minute => Err(wait),
            Ok(_) => Ok(()),
            Err(e) => {
                // Redis down: the per-node limit above still holds.
                tracing::warn!(error = %e, "cluster login throttle unavailable");
                Ok(())
            }
        }
    }

    fn check_local(&self, email: &str, ip: IpAddr) -> Result<(), u64> {
        // The limiter's own clock: making a new one reads the CPU's features, slow in a VM.
        let clock = self.by_ip.clock();
        use governor::clock::Clock;
        let wait = |nb: governor::NotUntil<governor::clock::QuantaInstant>| nb.wait_time_from(clock.now()).as_secs().max(1);
        self.by_ip.check_key(&ip).map_err(wait)?;
        self.by_email.check_key(&email.to_owned()).map_err(wait)?;
        Ok(())
    }

    /// Drop idle keys; call now and then so the maps do not grow without bound.
    pub fn shrink(&self) {
        self.by_email.retain_recent();
        self.by_ip.retain_recent();
        self.by_email.shrink_to_fit();
        self.by_ip.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn password_round_trip_and_dummy_never_matches() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong".into(), Some(h)).await);
        assert!(!verify_password("floorwalker-dummy-password".into(), None).await);
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token(SESSION_PREFIX);
        assert!(a.starts_with("fws_") && a.len() > 40);
        assert_ne!(a, new_token(SESSION_PREFIX));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[tokio::test]
    async fn throttle_blocks_after_quota() {
        let t = LoginThrottle::new(3);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(t.check("a@x.example", ip).await.is_ok());
        }
        assert!(t.check("a@x.example", ip).await.is_err());
        assert!(t.check("b@x.example", ip).await.is_ok(), "other accounts are not blocked by one");
    }
}
