//! Building and running the whole server: bind, connect, migrate, seed, serve, drain.
//!
//! `Application::build` binds first and exposes its address, so tests can bind port 0 and
//! never sleep waiting for a server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{self, LoginThrottle};
use crate::config::ServeArgs;
use crate::http::{self, AppState};
use crate::hub::{Hub, HubTasks};
use crate::storage::Db;
use crate::{demo, telemetry};

pub struct Application {
    listener: TcpListener,
    pub state: AppState,
    addr: SocketAddr,
    hub_tasks: HubTasks,
    calls_task: tokio::task::JoinHandle<()>,
    outbound_stop: CancellationToken,
    outbound_task: tokio::task::JoinHandle<()>,
}

impl Application {
    pub async fn build(config: ServeArgs) -> anyhow::Result<Self> {
        auth::init();
        let db = Db::connect(&config.db.database_url)
            .await
            .with_context(|| format!("connecting to {}", config.db.database_url.redacted()))?;
        db.migrate().await.context("migrating the database")?;
        if config.demo {
            demo::seed_if_empty(&db, config.demo_password.as_ref())
                .await
                .context("seeding the demo merchant")?;
        }
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        let addr = listener.local_addr()?;
        let redis = match &config.redis_url {
            Some(url) => {
                let client = redis::Client::open(url.expose()).with_context(|| format!("parsing {}", url.redacted()))?;
                let cfg = redis::aio::ConnectionManagerConfig::new().set_connection_timeout(Duration::from_secs(5));
                Some(
                    redis::aio::ConnectionManager::new_with_config(client, cfg)
                        .await
                        .with_context(|| format!("connecting to {}", url.redacted()))?,
                )
            }
            None => None,
        };
        let (hub, hub_tasks) = Hub::start(db.clone(), CancellationToken::new(), config.redis_url.as_ref().map(|u| u.expose()))
            .await
            .context("starting the chat hub")?;
        let (calls, calls_task) = crate::http::call_log::start(db.clone(), hub_tasks.analytics_stop.clone());
        let outbound_stop = CancellationToken::new();
        let (outbound, outbound_task) = crate::outbound::Outbound::start(db.clone(), &config.outbound, addr, outbound_stop.clone())
            .await
            .context("starting the outbound worker")?;
        crate::outbound::push::alerter::start(&hub, &outbound);
        if hub.reach_hook.set(std::sync::Arc::new(crate::outbound::hooks::Reacher)).is_err() {
            tracing::warn!("the hub already had a reach hook");
        }
        if config.demo {
            demo::seed_outbox(&db, &outbound)
                .await
                .context("seeding the demo's outbound mail")?;
        }
        let media = crate::media::Media::start(&db, &config).await.context("setting up photo storage")?;
        let state = AppState {
            db,
            throttle: match &redis {
                Some(r) => LoginThrottle::new(config.login_per_minute).with_redis(r.clone()),
                None => LoginThrottle::new(config.login_per_minute),
            },
            config: Arc::new(config),
            metrics: telemetry::metrics_handle(),
            hub,
            redis,
            calls,
            outbound,
            media,
            commerce_clock: crate::commerce::Clock::default(),
        };
        Ok(Application {
            listener,
            state,
            addr,
            hub_tasks,
            calls_task,
            outbound_stop,
            outbound_task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until `shutdown` completes, then stop accepting and drain in-flight requests.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let housekeeping = tokio::spawn(housekeeping(self.state.clone(), stop.clone()));
        let retention = tokio::spawn(crate::media::retention::run(
            self.state.db.clone(),
            self.state.media.clone(),
            stop.clone(),
        ));
        let commerce = tokio::spawn(crate::commerce::run(self.state.commerce(), stop.clone()));
        let app = http::router(self.state.clone());
        tracing::info!(addr = %self.addr, database = %self.state.config.db.database_url.redacted(), "floorwalker listening");
        let hub = self.state.hub.clone();
        let signal = async move {
            shutdown.await;
            // Tell every socket to reconnect elsewhere (close 1001) while HTTP drains.
            hub.shutdown.cancel();
        };
        // TCP_NODELAY: a chat frame is small and must leave at once. With Nagle's algorithm a
        // frame written while the previous one is unacknowledged waits for the peer's delayed
        // ACK (40 ms on Linux) — that was the whole delivery-latency tail in the load test.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(signal)
            .await?;
        stop.cancel();
        let _ = housekeeping.await;
        let _ = retention.await;
        let _ = commerce.await;
        for _ in 0..50 {
            if self.state.hub.connections() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.outbound_stop.cancel();
        let _ = self.outbound_task.await;
        self.hub_tasks.router.abort();
        self.hub_tasks.writer.abort();
        self.hub_tasks.analytics_stop.cancel();
        let _ = self.hub_tasks.analytics.await;
        let _ = self.calls_task.await;
        self.state.db.pool.close().await;
        self.state.db.writer.close().await;
        tracing::info!("floorwalker stopped");
        Ok(())
    }
}

/// Finished outbox rows (sent, failed, dead) are kept this long for the Outbox page.
pub const OUTBOX_KEEP_DAYS: i64 = 30;

/// Periodic clean-up: expired sessions and tokens, idle throttle keys, old outbox rows.
async fn housekeeping(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = state.db.delete_expired_sessions().await {
                    tracing::warn!(error = %e, "could not delete expired sessions");
                }
                let cutoff = crate::now_ms() - crate::http::call_log::KEEP_DAYS * 86_400_000;
                if let Err(e) = state.db.delete_api_calls_before(cutoff).await {
                    tracing::warn!(error = %e, "could not prune the API call log");
                }
                let cutoff = crate::now_ms() - OUTBOX_KEEP_DAYS * 86_400_000;
                if let Err(e) = state.db.prune_outbox(cutoff).await {
                    tracing::warn!(error = %e, "could not prune the outbox");
                }
                state.throttle.shrink();
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining");
}
