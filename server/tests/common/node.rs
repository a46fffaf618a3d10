//! A real `floorwalker serve` process on a free loopback port, for tests that kill a node
//! (SIGKILL: no graceful shutdown) or run several over one database. Shared by the cluster,
//! outbound and push tests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::sinks::free_port;
use super::{Client, DEMO_PASSWORD};

/// Poll `f` every 50 ms until it gives a value; fail the test after `secs` seconds.
pub async fn until<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct Node {
    pub url: String,
    child: Child,
}

impl Node {
    /// Start a node on `database_url` (with the demo merchant when `demo`). It may send
    /// webhooks and pushes to receivers on loopback; it has no SMTP server and no Redis unless
    /// `env` names them (`FLOORWALKER_SMTP_URL`, `REDIS_URL`), and `env` may set anything else.
    pub async fn start(database_url: &str, demo: bool, env: &[(&str, &str)]) -> Node {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_floorwalker"));
        cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", database_url)
            .env("FLOORWALKER_DEMO_PASSWORD", DEMO_PASSWORD)
            .env("FLOORWALKER_LOGIN_PER_MINUTE", "1000")
            .env("FLOORWALKER_ALLOW_PRIVATE_WEBHOOKS", "1")
            .env_remove("FLOORWALKER_SMTP_URL")
            .env_remove("REDIS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if demo {
            cmd.arg("--demo");
        }
        cmd.envs(env.iter().copied());
        let child = cmd.spawn().expect("start floorwalker");
        let url = format!("http://127.0.0.1:{port}");
        until(&format!("the node on port {port} ready"), 60, async || {
            let r = reqwest::get(format!("{url}/readyz")).await.ok()?;
            (r.status() == StatusCode::OK).then_some(())
        })
        .await;
        Node { url, child }
    }

    /// SIGKILL: the process gets no chance to tidy up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The demo merchant's admin, logged in on the server at `base`.
pub async fn demo_admin_at(base: &str) -> Client {
    let mut c = Client {
        base: base.to_owned(),
        jar: Default::default(),
        http: reqwest::Client::builder().cookie_store(true).build().unwrap(),
        csrf: None,
        bearer: None,
    };
    let (s, v) = c
        .post(
            "/api/v1/auth/login",
            json!({"email": "admin@demo.example", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    c.csrf = Some(v["csrf_token"].as_str().unwrap().to_owned());
    c
}
