//! Configuration: defaults < environment < command-line flags (clap does the layering).
//!
//! Secrets (database URLs with passwords, the demo password) are wrapped in [`Secret`], whose
//! `Debug` and `Display` never show the value, so a stray `{:?}` cannot leak them into logs.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The only way to read the value; grep for it when auditing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// A database or Redis URL: a secret, but loggable without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceUrl(Secret);

impl ServiceUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(Secret::new(url))
    }
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
    /// The URL with any user name and password removed, for logs.
    pub fn redacted(&self) -> String {
        match url::Url::parse(self.expose()) {
            Ok(mut u) if u.has_host() => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.set_query(None);
                u.to_string()
            }
            Ok(u) => format!("{}:…", u.scheme()),
            Err(_) => "<unparseable url>".into(),
        }
    }
    pub fn is_postgres(&self) -> bool {
        let s = self.expose();
        s.starts_with("postgres://") || s.starts_with("postgresql://")
    }
}

impl fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceUrl({:?})", self.redacted())
    }
}

impl std::str::FromStr for ServiceUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = ["sqlite:", "postgres://", "postgresql://", "redis://", "rediss://"]
            .iter()
            .any(|p| s.starts_with(p));
        if ok {
            Ok(ServiceUrl::new(s))
        } else {
            Err("expected a sqlite:, postgres://, or redis:// URL".into())
        }
    }
}

/// The SMTP server outbound e-mail goes through: `smtp://[user:pass@]host[:port]` (STARTTLS
/// when the server offers it; `?tls=required` insists on it) or `smtps://…` (TLS from the first
/// byte, port 465 by default). A secret (it may hold a password); loggable without it.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl(Secret);

impl SmtpUrl {
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
    /// The URL with the user name and password removed, for logs.
    pub fn redacted(&self) -> String {
        match url::Url::parse(self.expose()) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string()
            }
            Err(_) => "<unparseable url>".into(),
        }
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({:?})", self.redacted())
    }
}

impl std::str::FromStr for SmtpUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let u = url::Url::parse(s).map_err(|_| "expected smtp://[user:pass@]host[:port] or smtps://…".to_owned())?;
        if !matches!(u.scheme(), "smtp" | "smtps") || u.host_str().unwrap_or("").is_empty() {
            return Err("expected smtp://[user:pass@]host[:port] or smtps://…".into());
        }
        Ok(SmtpUrl(Secret::new(s)))
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/floorwalker.db";

#[derive(Debug, Parser)]
#[command(
    name = "floorwalker",
    version,
    about = "Real-time virtual shopping: the chat hub, API and front ends"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once at start-up: the size of the `serve` variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the server (migrates the database on start).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Create an operator account (the role that creates merchants).
    CreateOperator(CreateOperatorArgs),
    /// Print the chat protocol's TypeScript declarations (web-shared/protocol.ts).
    ProtocolTypes,
    /// Print the HTTP API's OpenAPI document (as served at /api/openapi.json).
    Openapi,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database: sqlite://PATH (embedded, default) or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: ServiceUrl,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FLOORWALKER_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    #[command(flatten)]
    pub db: DatabaseArgs,

    /// Redis for scale-out (cross-node fan-out, presence, rate limits); none means in-process.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<ServiceUrl>,

    /// Seed a demo merchant into an empty database.
    #[arg(long, env = "FLOORWALKER_DEMO", value_parser = clap::builder::FalseyValueParser::new())]
    pub demo: bool,

    /// Password for every demo login; generated and printed once when unset.
    #[arg(long, env = "FLOORWALKER_DEMO_PASSWORD", hide_env_values = true)]
    pub demo_password: Option<Secret>,

    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "FLOORWALKER_LOG_JSON", value_parser = clap::builder::FalseyValueParser::new())]
    pub log_json: bool,

    /// Mark cookies Secure (set this when served over HTTPS).
    #[arg(long, env = "FLOORWALKER_SECURE_COOKIES", value_parser = clap::builder::FalseyValueParser::new())]
    pub secure_cookies: bool,

    /// Folder holding widget/, store-app/ and dashboard/ with their built dist/ folders.
    #[arg(long, env = "FLOORWALKER_WEB_DIR", default_value = ".")]
    pub web_dir: PathBuf,

    /// Login attempts allowed per minute for one email address (and 4x that per client IP).
    #[arg(long, env = "FLOORWALKER_LOGIN_PER_MINUTE", default_value_t = 10)]
    pub login_per_minute: u32,

    #[command(flatten)]
    pub outbound: OutboundArgs,

    #[command(flatten)]
    pub media: MediaArgs,

    /// Tests only: serve `GET /api/v1/test/panic`, a handler that panics, to prove a panic
    /// answers a 500 problem and the server keeps serving (server/tests/security.rs).
    #[arg(long, env = "FLOORWALKER_TEST_PANIC_ROUTE", hide = true, value_parser = clap::builder::FalseyValueParser::new())]
    pub test_panic_route: bool,
}

/// Photos and video calls (issue 24): where photo files live, STUN/TURN for calls.
#[derive(Debug, Clone, Default, Args)]
pub struct MediaArgs {
    /// Folder for photo files; default `media/` beside the SQLite database (`data/media` on PostgreSQL).
    #[arg(long, env = "FLOORWALKER_MEDIA_DIR")]
    pub media_dir: Option<PathBuf>,

    /// Keep photo files in S3-compatible object storage instead: s3://BUCKET[/PREFIX].
    #[arg(long, env = "FLOORWALKER_OBJECT_STORE_URL")]
    pub object_store_url: Option<String>,

    /// Endpoint of an S3-compatible server other than AWS, e.g. http://minio.internal:9000.
    #[arg(long, env = "FLOORWALKER_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Region of the bucket (default: AWS_REGION, else us-east-1).
    #[arg(long, env = "FLOORWALKER_S3_REGION")]
    pub s3_region: Option<String>,

    /// Access key id (default: AWS_ACCESS_KEY_ID and the other usual AWS sources).
    #[arg(long, env = "FLOORWALKER_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    /// Secret access key (default: AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "FLOORWALKER_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<Secret>,

    /// STUN/TURN servers for video calls: JSON (RTCIceServer list) or comma-separated URLs.
    #[arg(long, env = "FLOORWALKER_ICE_SERVERS", hide_env_values = true)]
    pub ice_servers: Option<Secret>,

    /// coturn's static-auth-secret: hand each client its own short-lived TURN credentials.
    #[arg(long, env = "FLOORWALKER_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<Secret>,
}

/// E-mail, SMS and webhooks (see `outbound`).
#[derive(Debug, Clone, Args)]
pub struct OutboundArgs {
    /// SMTP server for outbound e-mail; without it mail stays in the Outbox (readable in the dashboard).
    #[arg(long, env = "FLOORWALKER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SmtpUrl>,

    /// Sender of the platform's e-mail when a merchant has not set an address of its own.
    #[arg(long, env = "FLOORWALKER_MAIL_FROM", default_value = "no-reply@floorwalker.localhost")]
    pub mail_from: String,

    /// The address shoppers and staff reach this server at, for links in e-mail (default: http://ADDR).
    #[arg(long, env = "FLOORWALKER_PUBLIC_URL")]
    pub public_url: Option<url::Url>,

    /// Let webhooks go to http:// and to loopback or private addresses (tests, demos, in-cluster receivers).
    #[arg(long, env = "FLOORWALKER_ALLOW_PRIVATE_WEBHOOKS", value_parser = clap::builder::FalseyValueParser::new())]
    pub allow_private_webhooks: bool,

    /// Run outbound retries, give-up times and leases this many times faster (tests and demos only).
    #[arg(long, env = "FLOORWALKER_OUTBOUND_SPEEDUP", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub outbound_speedup: u32,
}

impl Default for OutboundArgs {
    fn default() -> Self {
        OutboundArgs {
            smtp_url: None,
            mail_from: "no-reply@floorwalker.localhost".into(),
            public_url: None,
            allow_private_webhooks: false,
            outbound_speedup: 1,
        }
    }
}

impl ServeArgs {
    /// Settings for tests and tools: port 0, the given database, nothing else set.
    pub fn for_tests(database_url: &str) -> Self {
        ServeArgs {
            addr: "127.0.0.1:0".parse().expect("valid address"),
            db: DatabaseArgs {
                database_url: ServiceUrl::new(database_url),
            },
            redis_url: None,
            demo: false,
            demo_password: None,
            log_json: false,
            secure_cookies: false,
            web_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."),
            login_per_minute: 10,
            outbound: OutboundArgs::default(),
            media: MediaArgs::default(),
            test_panic_route: false,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CreateOperatorArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[arg(long)]
    pub email: String,
    #[arg(long, default_value = "Operator")]
    pub name: String,
    /// Read from this variable, so the password never sits in shell history.
    #[arg(long, env = "FLOORWALKER_OPERATOR_PASSWORD", hide_env_values = true)]
    pub password: Secret,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let s = Secret::new("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        let u: ServiceUrl = "postgres://fw:pa55word@db.internal:5432/fw".parse().unwrap();
        assert!(!format!("{u:?}").contains("pa55word"));
        assert!(u.redacted().contains("db.internal"));
        let args = ServeArgs {
            demo_password: Some(Secret::new("demo-pass-123")),
            db: DatabaseArgs { database_url: u },
            ..ServeArgs::for_tests("sqlite://x.db")
        };
        let mut args = ServeArgs {
            media: MediaArgs {
                s3_secret_access_key: Some(Secret::new("s3-secret-xyz")),
                ice_servers: Some(Secret::new(
                    r#"[{"urls":"turn:t.example","username":"u","credential":"turn-pass-1"}]"#,
                )),
                turn_secret: Some(Secret::new("coturn-secret-2")),
                ..MediaArgs::default()
            },
            ..args
        };
        args.outbound.smtp_url = Some("smtps://mailer:sm7p-pass@mail.example:465".parse().unwrap());
        let dbg = format!("{args:?}");
        assert!(!dbg.contains("pa55word") && !dbg.contains("demo-pass-123"), "{dbg}");
        for secret in ["s3-secret-xyz", "turn-pass-1", "coturn-secret-2", "sm7p-pass"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
        assert!(dbg.contains("mail.example"), "{dbg}");
        assert!("http://mail.example".parse::<SmtpUrl>().is_err());
    }

    #[test]
    fn flags_override_environment_which_overrides_defaults() {
        // Environment variables are process-wide; this test owns FLOORWALKER_ADDR.
        std::env::set_var("FLOORWALKER_ADDR", "127.0.0.1:9999");
        let cli = Cli::try_parse_from(["floorwalker", "serve"]).unwrap();
        let Command::Serve(a) = cli.command else { panic!("serve") };
        assert_eq!(a.addr.port(), 9999);
        let cli = Cli::try_parse_from(["floorwalker", "serve", "--addr", "127.0.0.1:7777"]).unwrap();
        let Command::Serve(a) = cli.command else { panic!("serve") };
        assert_eq!(a.addr.port(), 7777);
        std::env::remove_var("FLOORWALKER_ADDR");
        std::env::set_var("FLOORWALKER_DEMO", "1");
        let cli = Cli::try_parse_from(["floorwalker", "serve"]).unwrap();
        let Command::Serve(a) = cli.command else { panic!("serve") };
        assert!(a.demo, "FLOORWALKER_DEMO=1 turns the demo on");
        std::env::set_var("FLOORWALKER_DEMO", "0");
        let cli = Cli::try_parse_from(["floorwalker", "serve"]).unwrap();
        let Command::Serve(a) = cli.command else { panic!("serve") };
        assert!(!a.demo, "FLOORWALKER_DEMO=0 leaves it off");
        std::env::remove_var("FLOORWALKER_DEMO");
        let cli = Cli::try_parse_from(["floorwalker", "serve"]).unwrap();
        let Command::Serve(a) = cli.command else { panic!("serve") };
        assert_eq!(a.addr.port(), 8080);
        if std::env::var_os("DATABASE_URL").is_none() {
            assert_eq!(a.db.database_url.expose(), DEFAULT_DATABASE_URL);
        }
    }
}
