//! Logging and metrics setup, done once per process.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{fmt, EnvFilter};

/// Targets whose debug and trace output carries secrets: the WebSocket layer logs every frame
/// verbatim (a `hello` holds the shopper's or expert's token), and the HTTP client and server
/// layers can log headers (cookies, bearer tokens). Whatever `RUST_LOG` says, these log at most
/// `info`.
const SECRET_BEARING_TARGETS: &[&str] = &[
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "lettre",
    "redis",
];

/// Whether an event may be logged (see [`SECRET_BEARING_TARGETS`]).
pub fn loggable(target: &str, level: &tracing::Level) -> bool {
    *level <= tracing::Level::INFO
        || !SECRET_BEARING_TARGETS
            .iter()
            .any(|t| target == *t || target.strip_prefix(t).is_some_and(|rest| rest.starts_with("::")))
}

/// Install the tracing subscriber: human-readable, or JSON lines with `json`.
/// `RUST_LOG` overrides the default filter (but never lets secrets through: see
/// [`SECRET_BEARING_TARGETS`]).
pub fn init_logging(json: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let safe = tracing_subscriber::filter::filter_fn(|m| loggable(m.target(), m.level()));
    let layer = if json {
        fmt::layer().with_target(false).json().flatten_event(true).with_filter(safe).boxed()
    } else {
        fmt::layer().with_target(false).with_filter(safe).boxed()
    };
    let _ = tracing_subscriber::registry().with(filter).with(layer).try_init();
}

/// The process-wide Prometheus recorder (one per process, shared by every app a test starts).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .expect("valid buckets")
                .install_recorder()
                .expect("the only metrics recorder")
        })
        .clone()
}
