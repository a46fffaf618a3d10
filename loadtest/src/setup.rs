//! Preparing the demo merchant for a run: its id, a store open around the clock, and
//! enough approved experts (signed up with the invite code, approved by the admin).

use anyhow::{bail, Context};
use serde_json::{json, Value};

pub struct Target {
    pub merchant_id: String,
    pub store_id: String,
    pub department_ids: Vec<String>,
    /// Store-app tokens of approved experts assigned to the store and all its departments.
    pub expert_tokens: Vec<String>,
}

struct Admin {
    http: reqwest::Client,
    base: String,
    csrf: String,
}

impl Admin {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut rb = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await?;
        let status = res.status();
        let text = res.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {text}");
        }
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }
}

pub async fn prepare(base: &str, password: &str, experts: usize, max_chats: u32) -> anyhow::Result<Target> {
    prepare_spread(base, password, experts, max_chats, false).await
}

/// As [`prepare`]; with `spread`, each expert works one department of the store (round robin)
/// instead of all of them.
pub async fn prepare_spread(base: &str, password: &str, experts: usize, max_chats: u32, spread: bool) -> anyhow::Result<Target> {
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "admin@demo.example", "password": password}))
        .send()
        .await
        .context("is the server running with --demo?")?;
    if !res.status().is_success() {
        bail!(
            "admin@demo.example could not sign in ({}); pass --password or set FLOORWALKER_DEMO_PASSWORD",
            res.status()
        );
    }
    let session: Value = res.json().await?;
    let admin = Admin {
        http,
        base: base.to_owned(),
        csrf: session["csrf_token"].as_str().unwrap_or_default().to_owned(),
    };
    let merchant_id = session["account"]["merchant_id"].as_str().context("merchant id")?.to_owned();
    let stores = admin.call(reqwest::Method::GET, "/api/v1/stores", None).await?;
    let store = stores["items"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "Stockholm Flagship").or(s.first()))
        .context("the demo merchant has no stores")?
        .clone();
    let store_id = store["id"].as_str().context("store id")?.to_owned();
    let department_ids: Vec<String> = store["departments"]
        .as_array()
        .context("departments")?
        .iter()
        .filter_map(|d| d["id"].as_str().map(str::to_owned))
        .collect();
    // Around the clock, so the run does not depend on the time of day.
    let all_day = json!([{"open": "00:00", "close": "24:00"}]);
    let hours = json!({"monday": all_day, "tuesday": all_day, "wednesday": all_day, "thursday": all_day, "friday": all_day, "saturday": all_day, "sunday": all_day});
    admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/stores/{store_id}"),
            Some(json!({"hours": hours, "exceptions": []})),
        )
        .await?;
    // Give chats time: the run is about throughput, not about missing chats.
    let mut routing = admin.call(reqwest::Method::GET, "/api/v1/settings/routing", None).await?;
    routing["missed_after_s"] = json!(3600);
    routing["unanswered_reoffer_s"] = json!(0);
    admin.call(reqwest::Method::PUT, "/api/v1/settings/routing", Some(routing)).await?;

    let code = admin.call(reqwest::Method::GET, "/api/v1/team/invite-code", None).await?["invite_code"]
        .as_str()
        .context("invite code")?
        .to_owned();
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let mut tokens = Vec::with_capacity(experts);
    let signups = futures::future::join_all((0..experts).map(|i| {
        let http = reqwest::Client::new();
        let code = code.clone();
        let base = base.to_owned();
        async move {
            let res = http
                .post(format!("{base}/api/v1/app/signup"))
                .json(&json!({"invite_code": code, "email": format!("load-{run}-{i}@demo.example"), "name": format!("Load Expert {i}"), "password": "load-test-password"}))
                .send()
                .await?;
            let status = res.status();
            let v: Value = res.json().await?;
            if !status.is_success() {
                bail!("sign-up failed ({status}): {v} — start the server with FLOORWALKER_LOGIN_PER_MINUTE=100000 for load tests");
            }
            Ok::<_, anyhow::Error>(v)
        }
    }))
    .await;
    for (i, s) in signups.into_iter().enumerate() {
        let v = s?;
        let deps = if spread && !department_ids.is_empty() {
            vec![department_ids[i % department_ids.len()].clone()]
        } else {
            department_ids.clone()
        };
        let id = v["expert"]["id"].as_str().context("expert id")?.to_owned();
        admin
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/team/experts/{id}/approve"),
                Some(json!({})),
            )
            .await?;
        admin
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/team/experts/{id}/assignments"),
                Some(json!({"store_ids": [store_id], "department_ids": deps})),
            )
            .await?;
        admin
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v1/team/experts/{id}"),
                Some(json!({"max_chats": max_chats})),
            )
            .await?;
        tokens.push(v["token"].as_str().context("token")?.to_owned());
    }
    Ok(Target {
        merchant_id,
        store_id,
        department_ids,
        expert_tokens: tokens,
    })
}
