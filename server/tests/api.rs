//! Black-box tests of the REST API and operations endpoints, on SQLite and PostgreSQL.

mod common;

use common::{csv_as_documented, problem_type, Backend, TestApp, DEMO_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

on_both_backends!(
    operations_endpoints_answer,
    demo_seed_creates_the_documented_merchant,
    login_gives_the_same_answer_for_unknown_user_and_wrong_password,
    login_is_throttled,
    writes_need_the_csrf_token_and_logout_ends_the_session,
    password_change_ends_other_sessions,
    stores_round_trip_and_bad_input_changes_nothing,
    expert_signup_approval_and_deactivation,
    assignments_must_stay_within_the_merchant,
    saved_replies_csv_round_trip_is_all_or_nothing,
    api_keys_are_shown_once_and_revocable,
    lists_paginate_with_cursors,
    reassigning_contacts_moves_them,
    settings_validate_and_persist,
    deactivated_merchant_and_account_lose_access,
    readiness_covers_redis_when_configured,
    demos_dress_the_widget_and_reject_bad_images,
    responses_send_what_the_document_requires,
);

async fn readiness_covers_redis_when_configured(b: Backend) {
    let url = common::redis_url();
    let app = TestApp::spawn_with(b, |a| a.redis_url = Some(floorwalker::config::ServiceUrl::new(url))).await;
    let (s, body) = app.client().get("/readyz").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["redis"], "ok");
    app.stop().await;
}

async fn operations_endpoints_answer(b: Backend) {
    let app = TestApp::spawn(b).await;
    let c = app.client();
    assert_eq!(c.get("/healthz").await.0, StatusCode::OK);
    let (s, body) = c.get("/readyz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["checks"]["database"], "ok");
    let (s, doc) = c.get("/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/v1/stores/{store_id}"].is_object());
    // Every operation has an id of its own (generated clients name their functions by it).
    let mut ids = std::collections::HashMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let methods = ["get", "put", "post", "delete", "patch", "head", "options"];
        for (method, op) in item.as_object().unwrap().iter().filter(|(k, _)| methods.contains(&k.as_str())) {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            if let Some(other) = ids.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId {id} is used by {other} and {method} {path}");
            }
        }
    }
    assert!(ids.len() > 100, "{} operations", ids.len());
    let res = c.request(Method::GET, "/api/docs/").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("swagger"));
    // Unknown API paths are problem details; request ids come back.
    let res = c.request(Method::GET, "/api/v1/nope").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().contains_key("x-request-id"));
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // Metrics are labelled by route template, not by raw path.
    let op = app.operator().await;
    op.get("/api/v1/access/merchants/mer_00000000000000000000000000000000").await;
    let metrics = c.request(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"route="/api/v1/access/merchants/{merchant_id}""#), "{metrics}");
    assert!(!metrics.contains("mer_00000000000000000000000000000000"));
    app.stop().await;
}

async fn demo_seed_creates_the_documented_merchant(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, stores) = admin.get("/api/v1/stores").await;
    let stores = stores["items"].as_array().unwrap();
    assert_eq!(stores.len(), 2);
    for s in stores {
        assert!(!s["departments"].as_array().unwrap().is_empty());
        assert!(!s["address"]["city"].as_str().unwrap().is_empty());
        assert!(s["timezone"].as_str().unwrap().contains('/'));
    }
    let (_, approved) = admin.get("/api/v1/team/experts?status=approved").await;
    assert_eq!(approved["items"].as_array().unwrap().len(), 6);
    assert!(approved["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| !e["store_ids"].as_array().unwrap().is_empty()));
    let (_, pending) = admin.get("/api/v1/team/experts?status=pending").await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);
    let (_, replies) = admin.get("/api/v1/saved-replies").await;
    assert!(replies["items"].as_array().unwrap().len() >= 5);
    let (_, me) = admin.get("/api/v1/auth/session").await;
    assert_eq!(
        me["account"]["modules"].as_array().unwrap().len(),
        10,
        "every module, Catalogue and Orders included"
    );
    app.login("operator@demo.example", DEMO_PASSWORD).await;
    for n in 1..=6 {
        let (s, _) = app
            .client()
            .post(
                "/api/v1/app/login",
                json!({"email": format!("expert{n}@demo.example"), "password": DEMO_PASSWORD}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    // Seeding twice does nothing.
    assert!(!floorwalker::demo::seed_if_empty(&app.db, None).await.unwrap());
    app.stop().await;
}

async fn login_gives_the_same_answer_for_unknown_user_and_wrong_password(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let c = app.client();
    let t0 = std::time::Instant::now();
    let wrong = c
        .post(
            "/api/v1/auth/login",
            json!({"email": "admin@demo.example", "password": "not the password"}),
        )
        .await;
    let t_wrong = t0.elapsed();
    let t0 = std::time::Instant::now();
    let unknown = c
        .post(
            "/api/v1/auth/login",
            json!({"email": "nobody@demo.example", "password": "not the password"}),
        )
        .await;
    let t_unknown = t0.elapsed();
    assert_eq!(wrong, unknown, "identical status and body");
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(problem_type(&wrong.1), "urn:floorwalker:problem:invalid-credentials");
    // Both paths run one Argon2 verification; neither is an order of magnitude faster.
    let (fast, slow) = if t_wrong < t_unknown {
        (t_wrong, t_unknown)
    } else {
        (t_unknown, t_wrong)
    };
    assert!(slow < fast * 10, "timings differ too much: {t_wrong:?} vs {t_unknown:?}");
    // Same for the store app.
    let a = c
        .post(
            "/api/v1/app/login",
            json!({"email": "expert1@demo.example", "password": "nope nope nope"}),
        )
        .await;
    let b2 = c
        .post(
            "/api/v1/app/login",
            json!({"email": "ghost@demo.example", "password": "nope nope nope"}),
        )
        .await;
    assert_eq!(a, b2);
    app.stop().await;
}

async fn login_is_throttled(b: Backend) {
    let app = TestApp::spawn_with(b, |a| a.login_per_minute = 3).await;
    let c = app.client();
    for _ in 0..3 {
        assert_eq!(
            c.post("/api/v1/auth/login", json!({"email": "x@y.example", "password": "wrong password"}))
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
    let res = c
        .request(Method::POST, "/api/v1/auth/login")
        .json(&json!({"email": "x@y.example", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    app.stop().await;
}

async fn writes_need_the_csrf_token_and_logout_ends_the_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Csrf Shop").await;
    let mut no_csrf = admin.clone();
    no_csrf.csrf = None;
    let (s, body) = no_csrf
        .post("/api/v1/stores", json!({"name": "X", "timezone": "Europe/Berlin"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(problem_type(&body), "urn:floorwalker:problem:csrf");
    let mut wrong = admin.clone();
    wrong.csrf = Some("forged".into());
    assert_eq!(
        wrong
            .post("/api/v1/stores", json!({"name": "X", "timezone": "Europe/Berlin"}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin.get("/api/v1/stores").await.1["items"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
    // Reads need no token.
    assert_eq!(no_csrf.get("/api/v1/stores").await.0, StatusCode::OK);
    assert_eq!(admin.post("/api/v1/auth/logout", json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(admin.get("/api/v1/auth/session").await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn password_change_ends_other_sessions(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let laptop = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let phone = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (s, body) = laptop
        .post(
            "/api/v1/auth/password",
            json!({"current_password": "wrong", "new_password": "a new long password"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        phone.get("/api/v1/auth/session").await.0,
        StatusCode::OK,
        "a failed change ends nothing"
    );
    let (s, body) = laptop
        .post(
            "/api/v1/auth/password",
            json!({"current_password": DEMO_PASSWORD, "new_password": "a new long password"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(phone.get("/api/v1/auth/session").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        laptop.get("/api/v1/auth/session").await.0,
        StatusCode::OK,
        "this browser got a new session"
    );
    app.login("admin@demo.example", "a new long password").await;
    // Experts: a password change ends every store-app token.
    let c = app.client();
    let (_, t1) = c
        .post(
            "/api/v1/app/login",
            json!({"email": "expert1@demo.example", "password": DEMO_PASSWORD}),
        )
        .await;
    let (_, t2) = c
        .post(
            "/api/v1/app/login",
            json!({"email": "expert1@demo.example", "password": DEMO_PASSWORD}),
        )
        .await;
    let dev1 = c.with_bearer(t1["token"].as_str().unwrap());
    let dev2 = c.with_bearer(t2["token"].as_str().unwrap());
    let (s, t3) = dev1
        .post(
            "/api/v1/app/password",
            json!({"current_password": DEMO_PASSWORD, "new_password": "expert new password"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(dev2.get("/api/v1/app/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(dev1.get("/api/v1/app/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        c.with_bearer(t3["token"].as_str().unwrap()).get("/api/v1/app/me").await.0,
        StatusCode::OK
    );
    app.stop().await;
}

async fn stores_round_trip_and_bad_input_changes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Store Shop").await;
    let (s, store) = admin
        .post(
            "/api/v1/stores",
            json!({
                "name": "  Göteborg  ",
                "address": {"street": "Avenyn 1", "postal_code": "411 36", "city": "Göteborg", "country": "SE"},
                "timezone": "Europe/Stockholm",
                "hours": {"monday": [{"open": "09:00", "close": "12:00"}, {"open": "13:00", "close": "18:00"}]},
                "exceptions": [{"date": "2026-12-24", "hours": [], "note": "Julafton"}],
                "departments": ["Shoes", "Kitchen"]
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{store}");
    assert_eq!(store["name"], "Göteborg");
    assert_eq!(store["departments"].as_array().unwrap().len(), 2);
    assert_eq!(store["hours"]["monday"].as_array().unwrap().len(), 2);
    assert_eq!(store["hours"]["sunday"].as_array().unwrap().len(), 0);
    let id = store["id"].as_str().unwrap();

    // Every bad field is reported, and the store is unchanged.
    let (s, err) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/stores/{id}"),
            Some(json!({"name": "", "timezone": "Mars/Olympus", "hours": {"tuesday": [{"open": "18:00", "close": "09:00"}]}, "address": {"country": "Sweden"}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_type(&err), "urn:floorwalker:problem:validation");
    let fields: Vec<&str> = err["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["name", "timezone", "address.country", "hours.tuesday[0]"] {
        assert!(fields.contains(&f), "{f} missing in {fields:?}");
    }
    let (_, again) = admin.get(&format!("/api/v1/stores/{id}")).await;
    assert_eq!(again["name"], "Göteborg");
    assert_eq!(again["timezone"], "Europe/Stockholm");

    // Unknown fields and malformed JSON are rejected cleanly.
    let (s, _) = admin
        .call(Method::PATCH, &format!("/api/v1/stores/{id}"), Some(json!({"nmae": "typo"})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let res = admin
        .request(Method::POST, "/api/v1/stores")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = admin.request(Method::POST, "/api/v1/stores").body("name=x").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = "x".repeat(2 * 1024 * 1024);
    // On its own connection: the server answers before reading the body and closes that one.
    let mut fresh = admin.clone();
    fresh.http = reqwest::Client::builder().cookie_store(false).build().unwrap();
    let res = fresh
        .request(Method::POST, "/api/v1/stores")
        .header("content-type", "application/json")
        .header("cookie", session_cookie(&app, &admin).await)
        .body(format!("{{\"name\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Good edits persist; departments are unique per store.
    let (s, edited) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/stores/{id}"),
            Some(json!({"timezone": "Europe/Berlin"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(edited["timezone"], "Europe/Berlin");
    assert_eq!(edited["name"], "Göteborg");
    let (s, _) = admin
        .post(&format!("/api/v1/stores/{id}/departments"), json!({"name": "Shoes"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let dep = edited["departments"][0]["id"].as_str().unwrap();
    let (s, d) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/departments/{dep}"),
            Some(json!({"name": "Footwear"})),
        )
        .await;
    assert_eq!((s, d["name"].as_str()), (StatusCode::OK, Some("Footwear")));
    assert_eq!(
        admin.call(Method::DELETE, &format!("/api/v1/departments/{dep}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin.call(Method::DELETE, &format!("/api/v1/stores/{id}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(admin.get(&format!("/api/v1/stores/{id}")).await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// The `fw_session` cookie of a client's jar, for a request sent from another connection pool.
async fn session_cookie(app: &TestApp, c: &common::Client) -> String {
    use reqwest::cookie::CookieStore;
    let _ = c;
    let url: reqwest::Url = app.url.parse().unwrap();
    c.jar.cookies(&url).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

async fn expert_signup_approval_and_deactivation(b: Backend) {
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Team Shop").await;
    let (_, code) = admin.get("/api/v1/team/invite-code").await;
    let code = code["invite_code"].as_str().unwrap().to_owned();
    let anon = app.client();
    let (s, e) = anon
        .post(
            "/api/v1/app/signup",
            json!({"invite_code": "WRONGCODE1", "email": "new@team.example", "name": "New", "password": "long enough pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, signed) = anon
        .post(
            "/api/v1/app/signup",
            json!({"invite_code": code.to_lowercase(), "email": "New@Team.example", "name": "Nina New", "password": "long enough pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{signed}");
    assert_eq!(signed["expert"]["status"], "pending");
    assert_eq!(signed["expert"]["email"], "new@team.example");
    let phone = anon.with_bearer(signed["token"].as_str().unwrap());
    assert_eq!(phone.get("/api/v1/app/me").await.1["status"], "pending");
    assert_eq!(
        phone.get("/api/v1/app/saved-replies").await.0,
        StatusCode::FORBIDDEN,
        "pending experts cannot work yet"
    );
    let (s, _) = anon
        .post(
            "/api/v1/app/signup",
            json!({"invite_code": code, "email": "new@team.example", "name": "Dup", "password": "long enough pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    let id = signed["expert"]["id"].as_str().unwrap();
    let (s, e) = admin.post(&format!("/api/v1/team/experts/{id}/approve"), json!({})).await;
    assert_eq!((s, e["status"].as_str()), (StatusCode::OK, Some("approved")));
    assert_eq!(
        phone.get("/api/v1/app/me").await.1["status"],
        "approved",
        "the waiting screen can move on"
    );
    assert_eq!(phone.get("/api/v1/app/saved-replies").await.0, StatusCode::OK);
    assert_eq!(
        admin.post(&format!("/api/v1/team/experts/{id}/approve"), json!({})).await.0,
        StatusCode::CONFLICT
    );
    let (s, e) = admin.post(&format!("/api/v1/team/experts/{id}/deactivate"), json!({})).await;
    assert_eq!((s, e["status"].as_str()), (StatusCode::OK, Some("deactivated")));
    assert_eq!(
        phone.get("/api/v1/app/me").await.0,
        StatusCode::UNAUTHORIZED,
        "deactivation ends the token"
    );
    let (s, _) = anon
        .post(
            "/api/v1/app/login",
            json!({"email": "new@team.example", "password": "long enough pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = admin.post(&format!("/api/v1/team/experts/{id}/reactivate"), json!({})).await;
    assert_eq!((s, e["status"].as_str()), (StatusCode::OK, Some("approved")));
    let (s, _) = anon
        .post(
            "/api/v1/app/login",
            json!({"email": "new@team.example", "password": "long enough pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/team/experts/{id}"),
            Some(json!({"features": {"contacts": false, "product_sharing": true, "transfers": true}, "max_chats": 5})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(e["features"]["contacts"], false);
    assert_eq!(e["max_chats"], 5);
    assert_eq!(
        admin
            .call(Method::PATCH, &format!("/api/v1/team/experts/{id}"), Some(json!({"max_chats": 0})))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Rotating the invite code retires the old one.
    let (_, new_code) = admin.post("/api/v1/team/invite-code", json!({})).await;
    assert_ne!(new_code["invite_code"].as_str().unwrap(), code);
    let (s, _) = anon
        .post(
            "/api/v1/app/signup",
            json!({"invite_code": code, "email": "late@team.example", "name": "Late", "password": "long enough pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

async fn assignments_must_stay_within_the_merchant(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let op = app.login("operator@demo.example", DEMO_PASSWORD).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, other) = app.merchant(&op, "Other Shop").await;
    let (_, foreign_store) = other
        .post(
            "/api/v1/stores",
            json!({"name": "Theirs", "timezone": "Europe/Prague", "departments": ["Bikes"]}),
        )
        .await;
    let (_, stores) = admin.get("/api/v1/stores").await;
    let s0 = &stores["items"][0];
    let s1 = &stores["items"][1];
    let (_, experts) = admin.get("/api/v1/team/experts?status=approved").await;
    let e = experts["items"][0]["id"].as_str().unwrap();
    let before = admin.get(&format!("/api/v1/team/experts/{e}")).await.1;
    let path = format!("/api/v1/team/experts/{e}/assignments");
    // A foreign store or department is rejected, and nothing changes.
    let (s, _) = admin
        .call(
            Method::PUT,
            &path,
            Some(json!({"store_ids": [foreign_store["id"]], "department_ids": []})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = admin
        .call(
            Method::PUT,
            &path,
            Some(json!({"store_ids": [s0["id"]], "department_ids": [foreign_store["departments"][0]["id"]]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // A department of a store the expert is not assigned to is rejected too.
    let (s, _) = admin
        .call(
            Method::PUT,
            &path,
            Some(json!({"store_ids": [s0["id"]], "department_ids": [s1["departments"][0]["id"]]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(admin.get(&format!("/api/v1/team/experts/{e}")).await.1, before);
    let (s, after) = admin
        .call(
            Method::PUT,
            &path,
            Some(json!({"store_ids": [s0["id"], s1["id"]], "department_ids": [s1["departments"][0]["id"]]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(after["store_ids"].as_array().unwrap().len(), 2);
    assert_eq!(after["department_ids"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn saved_replies_csv_round_trip_is_all_or_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Reply Shop").await;
    let (s, r) = admin
        .post(
            "/api/v1/saved-replies",
            json!({"shortcut": "/Hours", "title": "Hours", "body": "=HYPERLINK(\"http://evil\")"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(r["shortcut"], "hours");
    assert_eq!(
        admin
            .post("/api/v1/saved-replies", json!({"shortcut": "hours", "title": "x", "body": "y"}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    let (s, e) = admin
        .post("/api/v1/saved-replies", json!({"shortcut": "has space", "title": "", "body": "y"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["errors"].as_array().unwrap().len(), 2);

    let res = admin.request(Method::GET, "/api/v1/saved-replies/export.csv").send().await.unwrap();
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv_text = res.text().await.unwrap();
    // The header the API reference gives (its summary of this route), one cell per column.
    let (_, openapi) = admin.get("/api/openapi.json").await;
    let summary = openapi["paths"]["/api/v1/saved-replies/export.csv"]["get"]["summary"]
        .as_str()
        .unwrap();
    let documented: Vec<String> = summary.split('`').nth(1).unwrap().split(',').map(str::to_owned).collect();
    let (_, rows) = csv_as_documented(&csv_text, &documented, &[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][2], "'=HYPERLINK(\"http://evil\")", "formula neutralised");

    // An import with one bad row changes nothing.
    let bad = "shortcut,title,body\r\nnew1,New one,Hello there\r\n,Missing shortcut,Body\r\n";
    let res = admin
        .request(Method::POST, "/api/v1/saved-replies/import")
        .header("content-type", "text/csv")
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err: serde_json::Value = res.json().await.unwrap();
    assert!(err["errors"][0]["field"].as_str().unwrap().starts_with("row 3"), "{err}");
    assert_eq!(admin.get("/api/v1/saved-replies").await.1["items"].as_array().unwrap().len(), 1);

    // A good import updates by shortcut and creates the rest; the exported file imports back.
    let good = format!("{csv_text}new1,\"New, one\",\"Line one\nline two, with \"\"quotes\"\"\"\r\n");
    let res = admin
        .request(Method::POST, "/api/v1/saved-replies/import")
        .header("content-type", "text/csv")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let sum: serde_json::Value = res.json().await.unwrap();
    assert_eq!((sum["created"].as_u64(), sum["updated"].as_u64()), (Some(1), Some(1)));
    let (_, all) = admin.get("/api/v1/saved-replies?q=QUOTES").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert_eq!(all["items"][0]["body"], "Line one\nline two, with \"quotes\"");
    let (_, hours) = admin.get("/api/v1/saved-replies?q=hours").await;
    assert_eq!(
        hours["items"][0]["body"], "=HYPERLINK(\"http://evil\")",
        "the export's quote is removed on import"
    );
    let res = admin
        .request(Method::POST, "/api/v1/saved-replies/import")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    app.stop().await;
}

async fn api_keys_are_shown_once_and_revocable(b: Backend) {
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Key Shop").await;
    let (s, created) = admin.post("/api/v1/api-keys", json!({"name": "Orders"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("fwk_"));
    let (_, list) = admin.get("/api/v1/api-keys").await;
    assert!(!list.to_string().contains(secret), "the secret is never shown again");
    let key = app.client().with_bearer(secret);
    assert_eq!(key.get("/api/v1/stores").await.0, StatusCode::OK);
    assert_eq!(
        key.get("/api/v1/team/experts").await.0,
        StatusCode::FORBIDDEN,
        "keys cannot manage people"
    );
    assert_eq!(key.get("/api/v1/api-keys").await.0, StatusCode::FORBIDDEN, "keys cannot mint keys");
    assert_eq!(
        app.client().with_bearer("fwk_forged").get("/api/v1/stores").await.0,
        StatusCode::UNAUTHORIZED
    );
    let id = created["key"]["id"].as_str().unwrap();
    let (s, revoked) = admin.call(Method::DELETE, &format!("/api/v1/api-keys/{id}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(revoked["revoked_at"].is_number());
    assert_eq!(key.get("/api/v1/stores").await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn lists_paginate_with_cursors(b: Backend) {
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Page Shop").await;
    for i in 0..5 {
        admin
            .post(
                "/api/v1/saved-replies",
                json!({"shortcut": format!("r{i}"), "title": "t", "body": "b"}),
            )
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/saved-replies?limit=2&cursor={c}"),
            None => "/api/v1/saved-replies?limit=2".into(),
        };
        let (s, page) = admin.get(&path).await;
        assert_eq!(s, StatusCode::OK);
        pages += 1;
        for it in page["items"].as_array().unwrap() {
            seen.push(it["shortcut"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["r0", "r1", "r2", "r3", "r4"]);
    assert_eq!(admin.get("/api/v1/saved-replies?limit=0").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(admin.get("/api/v1/saved-replies?limit=abc").await.0, StatusCode::BAD_REQUEST);
    app.stop().await;
}

async fn reassigning_contacts_moves_them(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, experts) = admin.get("/api/v1/team/experts?status=approved").await;
    let from = experts["items"][0]["id"].as_str().unwrap().to_owned();
    let to = experts["items"][1]["id"].as_str().unwrap().to_owned();
    let (_, pending) = admin.get("/api/v1/team/experts?status=pending").await;
    let pending_id = pending["items"][0]["id"].as_str().unwrap().to_owned();
    // Contacts come from chats (the hub); insert three directly, one shared with the target.
    let merchant = floorwalker::ids::MerchantId::from_db(experts["items"][0]["merchant_id"].as_str().unwrap().to_owned());
    let mut shoppers = Vec::new();
    for _ in 0..3 {
        shoppers.push(app.db.create_shopper(&merchant).await.unwrap().id);
    }
    for (expert, shopper) in [
        (&from, &shoppers[0]),
        (&from, &shoppers[1]),
        (&from, &shoppers[2]),
        (&to, &shoppers[0]),
    ] {
        sqlx::query("INSERT INTO contacts (merchant_id, expert_id, shopper_id, created_at, last_chat_at) VALUES ($1, $2, $3, 1, 1)")
            .bind(merchant.as_str())
            .bind(expert.as_str())
            .bind(shopper.as_str())
            .execute(&app.db.pool)
            .await
            .unwrap();
    }
    let path = format!("/api/v1/team/experts/{from}/reassign-contacts");
    assert_eq!(
        admin.post(&path, json!({"to_expert_id": pending_id})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        admin.post(&path, json!({"to_expert_id": from})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (s, r) = admin.post(&path, json!({"to_expert_id": to})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let from_id = floorwalker::ids::ExpertId::from_db(from);
    let to_id = floorwalker::ids::ExpertId::from_db(to);
    assert_eq!(app.db.count_contacts(&merchant, &from_id).await.unwrap(), 0);
    assert_eq!(
        app.db.count_contacts(&merchant, &to_id).await.unwrap(),
        3,
        "the shared shopper is one contact"
    );
    app.stop().await;
}

async fn settings_validate_and_persist(b: Backend) {
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Settings Shop").await;
    let (s, mut display) = admin.get("/api/v1/settings/display").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(display["brand_name"], "Settings Shop");
    display["primary_color"] = json!("#112233");
    display["hidden_paths"] = json!(["/checkout*", "/account/*"]);
    display["position"] = json!("bottom-left");
    let (s, saved) = admin.call(Method::PUT, "/api/v1/settings/display", Some(display.clone())).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    display["primary_color"] = json!("red");
    assert_eq!(
        admin.call(Method::PUT, "/api/v1/settings/display", Some(display)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(admin.get("/api/v1/settings/display").await.1["primary_color"], "#112233");
    let (s, o) = admin
        .call(
            Method::PUT,
            "/api/v1/settings/origins",
            Some(json!({"origins": ["https://Shop.Example/", "https://shop.example"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(o["origins"], json!(["https://shop.example"]));
    assert_eq!(
        admin
            .call(Method::PUT, "/api/v1/settings/origins", Some(json!({"origins": ["*"]})))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (_, mut routing) = admin.get("/api/v1/settings/routing").await;
    routing["missed_after_s"] = json!(300);
    assert_eq!(
        admin.call(Method::PUT, "/api/v1/settings/routing", Some(routing.clone())).await.0,
        StatusCode::OK
    );
    routing["reoffer_every_s"] = json!(1);
    assert_eq!(
        admin.call(Method::PUT, "/api/v1/settings/routing", Some(routing)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(admin.get("/api/v1/settings/routing").await.1["missed_after_s"], 300);
    app.stop().await;
}

async fn deactivated_merchant_and_account_lose_access(b: Backend) {
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (mid, admin) = app.merchant(&op, "Closing Shop").await;
    let (s, acc) = op
        .post("/api/v1/access/accounts", json!({"merchant_id": mid, "role": "merchant", "email": "analyst@closing.example", "name": "Ana", "password": DEMO_PASSWORD, "modules": ["stores"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{acc}");
    let (s, dup) = op
        .post(
            "/api/v1/access/accounts",
            json!({"merchant_id": mid, "role": "merchant", "email": "Analyst@Closing.example", "name": "Again", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(dup["errors"][0]["field"], "email", "the conflict names its field: {dup}");
    let analyst = app.login("analyst@closing.example", DEMO_PASSWORD).await;
    assert_eq!(analyst.get("/api/v1/stores").await.0, StatusCode::OK);
    assert_eq!(analyst.get("/api/v1/team/experts").await.0, StatusCode::FORBIDDEN);
    // Narrowing modules applies at once.
    let aid = acc["id"].as_str().unwrap();
    op.call(
        Method::PATCH,
        &format!("/api/v1/access/accounts/{aid}"),
        Some(json!({"modules": ["team"]})),
    )
    .await;
    assert_eq!(analyst.get("/api/v1/stores").await.0, StatusCode::FORBIDDEN);
    assert_eq!(analyst.get("/api/v1/team/experts").await.0, StatusCode::OK);
    // Deactivating the account ends its session.
    op.call(
        Method::PATCH,
        &format!("/api/v1/access/accounts/{aid}"),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(analyst.get("/api/v1/team/experts").await.0, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .client()
        .post(
            "/api/v1/auth/login",
            json!({"email": "analyst@closing.example", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Deactivating the merchant locks out its accounts.
    let (s, _) = op
        .call(
            Method::PATCH,
            &format!("/api/v1/access/merchants/{mid}"),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(admin.get("/api/v1/stores").await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// The smallest valid PNG (1×1), as a data: URL.
const PNG_1X1: &str =
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

async fn demos_dress_the_widget_and_reject_bad_images(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let op = app.operator().await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, session) = admin.get("/api/v1/auth/session").await;
    let merchant = session["account"]["merchant_id"].as_str().unwrap().to_owned();
    let (_, stores) = admin.get("/api/v1/stores").await;
    let berlin = stores["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Berlin Mitte")
        .unwrap()["id"]
        .clone();
    let (_, other_merchant) = app.merchant(&op, "Other").await;
    let (_, other_stores) = other_merchant
        .post("/api/v1/stores", json!({"name": "Theirs", "timezone": "Europe/Berlin"}))
        .await;

    // Bad input: one clear error per field, nothing created.
    let html_as_png = format!("data:image/png;base64,{}", base64_of(b"<html><script>alert(1)</script>"));
    let svg_with_handler = format!("data:image/svg+xml;base64,{}", base64_of(b"<svg onload=\"alert(1)\"></svg>"));
    let (s, p) = op
        .post(
            "/api/v1/demos",
            json!({"prospect_name": "", "merchant_id": merchant, "primary_color": "red", "logo": svg_with_handler,
                   "screenshot": html_as_png, "store_id": other_stores["id"], "website": "ftp://x"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["prospect_name", "primary_color", "logo", "screenshot", "store_id", "website"] {
        assert!(fields.contains(&f), "{f} missing in {fields:?}");
    }
    let (s, p) = op
        .post("/api/v1/demos", json!({"prospect_name": "X", "merchant_id": "mer_nope"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (_, list) = op.get("/api/v1/demos").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    // Merchants cannot manage demos.
    assert_eq!(admin.get("/api/v1/demos").await.0, StatusCode::FORBIDDEN);

    // A demo with a logo, a greeting and Berlin as its store.
    let (s, d) = op
        .post(
            "/api/v1/demos",
            json!({"prospect_name": "Acme <Outdoor> & Co", "merchant_id": merchant, "store_id": berlin,
                   "primary_color": "#AA3300", "background_color": "#f4f1ea", "logo": PNG_1X1, "greeting": "Hej! Ask our gear experts."}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let slug = d["slug"].as_str().unwrap().to_owned();
    assert!(slug.starts_with("acme-outdoor-co-") && slug.len() > 25, "{slug}");
    assert_eq!(d["url"], format!("/demo/{slug}"));
    assert_eq!(d["primary_color"], "#aa3300");
    assert_eq!(d["has_screenshot"], false);
    // The public page: escaped name, the mock shop, the widget with the demo's slug.
    let page = app.client().request(Method::GET, &format!("/demo/{slug}")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["x-robots-tag"], "noindex, nofollow");
    let html = page.text().await.unwrap();
    assert!(html.contains("Acme &lt;Outdoor&gt; &amp; Co") && !html.contains("<Outdoor>"));
    assert!(html.contains(&format!("data-merchant=\"{merchant}\" data-demo=\"{slug}\"")));
    assert!(html.contains("class=\"grid\""), "the mock shop");
    let logo = app
        .client()
        .request(Method::GET, &format!("/demo/{slug}/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(logo.headers()["content-type"], "image/png");
    // The widget, dressed: name, colour, logo, greeting, and only the demo's store.
    let (s, cfg) = app
        .client()
        .get(&format!("/api/v1/public/widget-config?merchant={merchant}&demo={slug}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{cfg}");
    assert_eq!(cfg["display"]["brand_name"], "Acme <Outdoor> & Co");
    assert_eq!(cfg["display"]["primary_color"], "#aa3300");
    assert_eq!(cfg["display"]["logo_url"], format!("/demo/{slug}/logo"));
    assert_eq!(cfg["display"]["greeting"]["en"], "Hej! Ask our gear experts.");
    let store_ids: Vec<&Value> = cfg["stores"].as_array().unwrap().iter().map(|s| &s["id"]).collect();
    assert_eq!(store_ids, [&berlin]);
    // The slug only dresses its own merchant's widget.
    let (_, other_session) = other_merchant.get("/api/v1/auth/session").await;
    let other_id = other_session["account"]["merchant_id"].as_str().unwrap();
    let (s, _) = app
        .client()
        .get(&format!("/api/v1/public/widget-config?merchant={other_id}&demo={slug}"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Without the demo the merchant's own look is untouched.
    let (_, plain) = app.client().get(&format!("/api/v1/public/widget-config?merchant={merchant}")).await;
    assert_eq!(plain["display"]["brand_name"], "Nordhem Home & Electronics");

    // A screenshot replaces the mock shop; null removes it again.
    let id = d["id"].as_str().unwrap();
    let (s, d2) = op
        .call(Method::PATCH, &format!("/api/v1/demos/{id}"), Some(json!({"screenshot": PNG_1X1})))
        .await;
    assert_eq!(s, StatusCode::OK, "{d2}");
    assert_eq!(d2["has_screenshot"], true);
    assert_eq!(d2["prospect_name"], "Acme <Outdoor> & Co", "untouched fields stay");
    let html = app
        .client()
        .request(Method::GET, &format!("/demo/{slug}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("/demo/{slug}/screenshot")) && !html.contains("class=\"grid\""));
    let shot = app
        .client()
        .request(Method::GET, &format!("/demo/{slug}/screenshot"))
        .send()
        .await
        .unwrap();
    assert_eq!(shot.headers()["content-type"], "image/png");
    assert!(shot.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let (_, d3) = op
        .call(Method::PATCH, &format!("/api/v1/demos/{id}"), Some(json!({"screenshot": null})))
        .await;
    assert_eq!(d3["has_screenshot"], false);
    // A bad update changes nothing.
    let (s, _) = op
        .call(
            Method::PATCH,
            &format!("/api/v1/demos/{id}"),
            Some(json!({"primary_color": "nope"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(op.get(&format!("/api/v1/demos/{id}")).await.1["primary_color"], "#aa3300");
    // Deleted: the link stops working.
    assert_eq!(
        op.call(Method::DELETE, &format!("/api/v1/demos/{id}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    let gone = app.client().request(Method::GET, &format!("/demo/{slug}")).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

// ---------- The response contract: `required` and nullable say what the server sends ----------

/// The only nullable fields of server-sent schemas that may be left out of an answer: serde skips
/// them when empty (`skip_serializing_if`). Every other `Option` field of a type the server only
/// sends goes out as `null` when empty, so its schema must list it as required
/// (`#[schema(required = true)]`) and generated clients read `T | null`, not `T | undefined`.
const SOMETIMES_OMITTED: &[&str] = &[
    "IceServer.credential",
    "IceServer.username",
    "PageVisit.product",
    "PageVisit.title",
    "Problem.detail",
];

/// Schema names reached from `roots` through `$ref`s.
fn schemas_reached(doc: &Value, roots: &[&Value]) -> BTreeSet<String> {
    fn walk(doc: &Value, v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(name) = m
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    if out.insert(name.to_owned()) {
                        walk(doc, &doc["components"]["schemas"][name], out);
                    }
                }
                m.values().for_each(|x| walk(doc, x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(doc, x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    roots.iter().for_each(|r| walk(doc, r, &mut out));
    out
}

/// The schemas the server sends (answers, webhook bodies) and those it receives (request bodies,
/// parameters), each with the schemas they reach.
fn directions(doc: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut sent, mut received) = (Vec::new(), Vec::new());
    for item in doc["paths"].as_object().unwrap().values() {
        received.push(&item["parameters"]);
        for op in item.as_object().unwrap().values() {
            sent.push(&op["responses"]);
            received.push(&op["requestBody"]);
            received.push(&op["parameters"]);
        }
    }
    for hook in doc["webhooks"].as_object().expect("the webhooks section").values() {
        sent.push(&hook["post"]["requestBody"]);
    }
    (schemas_reached(doc, &sent), schemas_reached(doc, &received))
}

fn allows_null(schema: &Value) -> bool {
    let null_type = |s: &Value| match &s["type"] {
        Value::String(t) => t == "null",
        Value::Array(ts) => ts.iter().any(|t| t == "null"),
        _ => false,
    };
    null_type(schema)
        || ["oneOf", "anyOf"]
            .iter()
            .any(|k| schema[*k].as_array().is_some_and(|a| a.iter().any(null_type)))
}

/// `Schema.field` for every nullable property not in `required`, in `schema` and the objects
/// written inside it (not behind `$ref`s: those are schemas of their own).
fn optional_nullable(schema: &Value, label: &str, out: &mut BTreeSet<String>) {
    if let Some(props) = schema["properties"].as_object() {
        let required = schema["required"].as_array().cloned().unwrap_or_default();
        for (k, p) in props {
            if allows_null(p) && !required.contains(&json!(k)) {
                out.insert(format!("{label}.{k}"));
            }
            optional_nullable(p, &format!("{label}.{k}"), out);
        }
    }
    for k in ["allOf", "oneOf", "anyOf"] {
        for part in schema[k].as_array().into_iter().flatten() {
            optional_nullable(part, label, out);
        }
    }
    if schema["items"].is_object() {
        optional_nullable(&schema["items"], &format!("{label}[]"), out);
    }
}

/// From the document alone, so a new response type cannot forget it before any test sends one:
/// in the schemas the server only sends (responses and webhook bodies, never a request body or
/// parameter), a nullable field is optional only when it is in [`SOMETIMES_OMITTED`]. Schemas
/// that also come in (settings read with GET and written with PUT) are left out: a client may omit
/// their keys.
#[test]
fn server_sent_schemas_require_their_always_sent_nullable_fields() {
    let doc = serde_json::to_value(floorwalker::http::api().1).unwrap();
    let (sent, received) = directions(&doc);
    assert!(sent.contains("Cart") && sent.contains("ConversationData") && received.contains("StorePatch"));
    let mut optional = BTreeSet::new();
    for name in sent.difference(&received) {
        optional_nullable(&doc["components"]["schemas"][name], name, &mut optional);
    }
    let omitted: BTreeSet<String> = SOMETIMES_OMITTED.iter().map(|s| s.to_string()).collect();
    let forgotten: Vec<_> = optional.difference(&omitted).collect();
    assert!(
        forgotten.is_empty(),
        "always sent (as null when empty) but documented as optional: add #[schema(required = true)] \
         to {forgotten:?}, or, if serde skips them when empty, list them in SOMETIMES_OMITTED"
    );
    let stale: Vec<_> = omitted.difference(&optional).collect();
    assert!(
        stale.is_empty(),
        "SOMETIMES_OMITTED lists {stale:?}, which are not optional nullable fields of server-sent schemas"
    );
}

/// What real answers said about their schemas.
#[derive(Default)]
struct Findings {
    problems: Vec<String>,
    /// `Schema.field` seen as `null`.
    nulls: BTreeSet<String>,
}

/// Checks real JSON answers against the OpenAPI document the server serves: every required key
/// is sent, every key sent is documented with a type that fits, and a key sent as `null` is
/// required and nullable (so `T | null`, never `T | undefined`, is the truth for clients).
struct Contract {
    doc: Value,
    /// Schemas that also come in (settings read with GET and written with PUT): a client may
    /// leave their nullable keys out, so the document keeps them optional.
    two_way: BTreeSet<String>,
    checked: BTreeSet<String>,
    found: Findings,
}

impl Contract {
    /// Check the answer `body` of `method path` (the path as the document writes it).
    fn answer(&mut self, method: &str, path: &str, status: StatusCode, body: &Value) {
        let schema = self.doc["paths"][path][method]["responses"][status.as_str()]["content"]["application/json"]["schema"].clone();
        assert!(
            schema.is_object(),
            "{method} {path} answered {status}, not documented as JSON: {body}"
        );
        let mut found = Findings::default();
        self.value(&schema, body, &format!("{method} {path}: "), "", &mut found);
        self.found.problems.extend(found.problems);
        self.found.nulls.extend(found.nulls);
        self.checked.insert(format!("{method} {path}"));
    }

    fn value(&self, schema: &Value, v: &Value, at: &str, owner: &str, out: &mut Findings) {
        let (schema, owner) = match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
            Some(name) => (&self.doc["components"]["schemas"][name], name),
            None => (schema, owner),
        };
        for key in ["oneOf", "anyOf"] {
            if let Some(alternatives) = schema[key].as_array() {
                let mut misfits = Vec::new();
                for alt in alternatives {
                    let mut f = Findings::default();
                    self.value(alt, v, at, owner, &mut f);
                    if f.problems.is_empty() {
                        out.nulls.extend(f.nulls);
                        return;
                    }
                    misfits.extend(f.problems);
                }
                out.problems
                    .push(format!("{at}fits none of its {key} alternatives: {}", misfits.join("; ")));
                return;
            }
        }
        if let Some(parts) = schema["allOf"].as_array() {
            let (mut properties, mut required) = (serde_json::Map::new(), Vec::new());
            for part in parts {
                let part = match part["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
                    Some(name) => &self.doc["components"]["schemas"][name],
                    None => part,
                };
                properties.extend(part["properties"].as_object().cloned().unwrap_or_default());
                required.extend(part["required"].as_array().cloned().unwrap_or_default());
            }
            let merged = json!({"type": "object", "properties": properties, "required": required});
            return self.value(&merged, v, at, owner, out);
        }
        let kind = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "number",
            Value::Number(_) => "integer",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| *t == kind || (*t == "number" && kind == "integer")) {
            out.problems.push(format!("{at}is {kind}, documented as {types:?}"));
            return;
        }
        if schema["enum"].as_array().is_some_and(|e| !e.contains(v)) || schema.get("const").is_some_and(|c| c != v) {
            out.problems.push(format!("{at}{v} is not one of the documented values"));
            return;
        }
        match v {
            Value::Object(map) => {
                let properties = schema["properties"].as_object();
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for key in &required {
                    if !map.contains_key(*key) {
                        out.problems.push(format!("{at}`{key}` is required but was not sent"));
                    }
                }
                for (key, x) in map {
                    let here = format!("{}{key}", if at.ends_with(": ") { at.to_owned() } else { format!("{at}.") });
                    match properties.and_then(|p| p.get(key)) {
                        Some(p) => {
                            if x.is_null() {
                                out.nulls.insert(format!("{owner}.{key}"));
                                if !required.contains(&key.as_str()) && !self.two_way.contains(owner) {
                                    out.problems
                                        .push(format!("{here} was sent as null but {owner} does not list `{key}` as required"));
                                }
                            }
                            self.value(p, x, &here, owner, out);
                        }
                        None if schema["additionalProperties"].is_object() => {
                            self.value(&schema["additionalProperties"], x, &here, owner, out)
                        }
                        None if properties.is_some() => out.problems.push(format!("{here} was sent but {owner} does not document it")),
                        None => {}
                    }
                }
            }
            Value::Array(items) if schema["items"].is_object() => {
                for (i, x) in items.iter().enumerate() {
                    self.value(&schema["items"], x, &format!("{}[{i}]", at.trim_end_matches(": ")), owner, out);
                }
            }
            _ => {}
        }
    }
}

/// From outside: a merchant with a chat, a cart, orders, a product, a webhook endpoint and a demo
/// page, then every documented JSON `GET` whose parameters are known, as whoever may call it.
/// Each answer must send its schema's required keys, and every key it sends as `null` must be
/// required and nullable in the document (but for schemas that also come in, see
/// [`Contract::two_way`]).
async fn responses_send_what_the_document_requires(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let plain = app.client();
    let (_, doc) = plain.get("/api/openapi.json").await;
    let two_way = directions(&doc).1;
    let mut contract = Contract {
        doc,
        two_way,
        checked: BTreeSet::new(),
        found: Findings::default(),
    };
    let (m, store, dep) = common::demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let op = app.operator().await;

    let (s, k) = admin.post("/api/v1/api-keys", json!({"name": "contract"})).await;
    contract.answer("post", "/api/v1/api-keys", s, &k);
    let key = app.client().with_bearer(k["secret"].as_str().unwrap());
    let (s, product) = key
        .post(
            "/api/v1/catalogue/products",
            json!({"sku": "PLAIN-1", "name": "Plain", "price": "10.00", "currency": "SEK", "vat_rate": "25"}),
        )
        .await;
    contract.answer("post", "/api/v1/catalogue/products", s, &product);
    let (s, checkout) = admin
        .call(
            Method::PUT,
            "/api/v1/settings/checkout",
            Some(json!({"mode": "hosted", "checkout_url": "https://shop.example/checkout"})),
        )
        .await;
    contract.answer("put", "/api/v1/settings/checkout", s, &checkout);
    let (s, hook) = admin
        .post("/api/v1/webhooks", json!({"url": "https://hooks.example/floorwalker"}))
        .await;
    contract.answer("post", "/api/v1/webhooks", s, &hook);
    let (s, demo) = op
        .post("/api/v1/demos", json!({"prospect_name": "Prospect", "merchant_id": m}))
        .await;
    contract.answer("post", "/api/v1/demos", s, &demo);

    // A chat, claimed, and a cart with a free-text line (no sku, no product).
    let (mut expert_ws, _) = common::expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, shopper_id, shopper_token) = common::shopper_ws(&app, &m, None).await;
    let conv = common::start_chat(&mut shopper, &store, &dep, "Which one?").await;
    common::claim(&mut expert_ws, &conv).await;
    let (_, login) = plain
        .post(
            "/api/v1/app/login",
            json!({"email": "expert1@demo.example", "password": DEMO_PASSWORD}),
        )
        .await;
    let expert = app.client().with_bearer(login["token"].as_str().unwrap());
    let lines = json!({"lines": [{"sku": "PLAIN-1", "quantity": 1}, {"text": "Gift wrap", "quantity": 1, "unit_price": "20"}]});
    let (s, preview) = expert.post("/api/v1/app/carts/preview", lines.clone()).await;
    contract.answer("post", "/api/v1/app/carts/preview", s, &preview);
    let (s, cart) = expert.post(&format!("/api/v1/app/conversations/{conv}/carts"), lines).await;
    contract.answer("post", "/api/v1/app/conversations/{conversation_id}/carts", s, &cart);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let go = no_redirects.post(cart["pay_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(go.status(), StatusCode::SEE_OTHER);
    let location = go.headers()["location"].to_str().unwrap();
    let cart_ref = location.split("floorwalker_cart=").nth(1).expect(location).to_owned();
    // One order from the cart, one from a shopper who never chatted (nothing to attribute it to).
    let order = json!({"order_id": "C-1", "cart_ref": cart_ref, "amount": "32.50", "currency": "SEK", "status": "paid"});
    let (s, o) = key.post("/api/v1/orders", order).await;
    contract.answer("post", "/api/v1/orders", s, &o);
    let (_, lurker, _) = common::shopper_ws(&app, &m, None).await;
    let (s, o) = key
        .post(
            "/api/v1/orders",
            json!({"order_id": "C-2", "shopper_id": lurker, "amount": "5.00", "currency": "SEK"}),
        )
        .await;
    contract.answer("post", "/api/v1/orders", s, &o);

    let (_, session) = admin.get("/api/v1/auth/session").await;
    let (_, experts) = admin.get("/api/v1/team/experts").await;
    let (_, outbox) = admin.get("/api/v1/outbox").await;
    let (_, replies) = admin.get("/api/v1/saved-replies").await;
    let mut known: BTreeMap<&str, String> = BTreeMap::new();
    let mut know = |name, v: &Value| {
        if let Some(v) = v.as_str() {
            known.insert(name, v.to_owned());
        }
    };
    know("merchant", &json!(m));
    know("merchant_id", &json!(m));
    know("store_id", &json!(store));
    know("shopper_id", &json!(shopper_id));
    know("conversation_id", &json!(conv));
    know("cart_id", &cart["id"]);
    know("cart_ref", &json!(cart_ref));
    know("order_id", &json!("C-1"));
    know("product_id", &product["id"]);
    know("endpoint_id", &hook["endpoint"]["id"]);
    know("demo_id", &demo["id"]);
    know("account_id", &session["account"]["id"]);
    know("expert_id", &experts["items"][0]["id"]);
    know("message_id", &outbox["items"][0]["id"]);
    know("reply_id", &replies["items"][0]["id"]);
    know("q", &json!("plain"));

    let widget = app.client().with_bearer(&shopper_token);
    let paths = contract.doc["paths"].as_object().unwrap().clone();
    let mut unknown = Vec::new();
    for (template, item) in &paths {
        let get = &item["get"];
        if !get["responses"]["200"]["content"]["application/json"].is_object() {
            continue;
        }
        let (mut path, mut query) = (template.clone(), Vec::new());
        let mut missing = None;
        for p in get["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            match (known.get(name), p["in"].as_str(), p["required"] == true) {
                (Some(v), Some("path"), _) => path = path.replace(&format!("{{{name}}}"), v),
                (Some(v), Some("query"), true) => query.push(format!("{name}={v}")),
                (None, _, true) => missing = Some(name),
                _ => {}
            }
        }
        if let Some(name) = missing {
            unknown.push(format!("{template} ({name})"));
            continue;
        }
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        let schemes: Vec<&str> = get["security"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s.as_object().unwrap().keys())
            .map(String::as_str)
            .collect();
        let mut callers = Vec::new();
        for scheme in &schemes {
            match *scheme {
                "session" => callers.extend([&admin, &op]),
                "api_key" => callers.push(&key),
                "expert_token" => callers.push(&expert),
                "shopper_token" => callers.push(&widget),
                other => panic!("{template}: unknown security scheme {other}"),
            }
        }
        if schemes.is_empty() {
            callers.push(&plain);
        }
        let mut answered = false;
        for caller in callers {
            let (s, body) = caller.get(&path).await;
            if s == StatusCode::OK {
                contract.answer("get", template, s, &body);
                answered = true;
                break;
            }
        }
        assert!(answered, "GET {path} answered no caller with 200");
    }
    let problems = &contract.found.problems;
    assert!(
        problems.is_empty(),
        "answers that break the OpenAPI document:\n{}",
        problems.join("\n")
    );
    assert!(unknown.len() <= 3, "GETs this test could not fill in: {unknown:?}");
    assert!(contract.checked.len() >= 50, "checked only {:?}", contract.checked);
    // Not vacuous: many optional values really went out as null.
    let nulls = &contract.found.nulls;
    for field in [
        "Cart.order_id",
        "LineView.sku",
        "Product.gtin",
        "WebhookEndpoint.last_success_at",
        "Order.expert_id",
    ] {
        assert!(nulls.contains(field), "{field} was never null: {nulls:?}");
    }
    assert!(nulls.len() >= 40, "{} null fields: {nulls:?}", nulls.len());
    drop((shopper, expert_ws));
    app.stop().await;
}
