//! The authorization matrix: every API route (read from the OpenAPI document, so a new route
//! cannot be forgotten) × every kind of caller × another merchant's ids.
//!
//! Rules checked:
//! - anonymous callers get 401 everywhere but sign-in and sign-up;
//! - a merchant module route answers 403 to an account lacking that module (one account per
//!   module, holding all the others), to the operator, and to an API key where keys are not
//!   allowed; a store-app token is not a dashboard credential (401);
//! - Access routes answer only to the operator;
//! - with another merchant's ids, every module route answers 404, for accounts and API keys;
//! - lists never contain another merchant's ids; and after all of it, the other merchant's
//!   data is exactly as before.

mod common;

use std::collections::BTreeMap;

use common::{Backend, Client, TestApp, DEMO_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(authorization_matrix);

const MODULES: [&str; 10] = [
    "analytics",
    "exports",
    "stores",
    "team",
    "settings",
    "saved_replies",
    "shoppers",
    "integrations",
    "catalogue",
    "orders",
];
const API_KEY_MODULES: [&str; 7] = ["analytics", "exports", "stores", "saved_replies", "shoppers", "catalogue", "orders"];

/// One merchant's objects, by path parameter name.
struct Ids(BTreeMap<&'static str, String>);

async fn merchant_ids(app: &TestApp, admin: &Client, merchant_id: &str) -> Ids {
    let (_, store) = admin
        .post(
            "/api/v1/stores",
            json!({"name": "Matrix store", "timezone": "Europe/Berlin", "departments": ["Matrix dep"]}),
        )
        .await;
    let (_, reply) = admin
        .post("/api/v1/saved-replies", json!({"shortcut": "matrix", "title": "t", "body": "b"}))
        .await;
    let (_, key) = admin.post("/api/v1/api-keys", json!({"name": "matrix"})).await;
    let (_, code) = admin.get("/api/v1/team/invite-code").await;
    let email = format!("matrix-expert-{}@x.example", &merchant_id[4..12]);
    let (s, expert) = app
        .client()
        .post(
            "/api/v1/app/signup",
            json!({"invite_code": code["invite_code"], "email": email, "name": "M", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{expert}");
    let m = floorwalker::ids::MerchantId::parse(merchant_id).unwrap();
    let shopper = app.db.create_shopper(&m).await.unwrap();
    let (_, session) = admin.get("/api/v1/auth/session").await;
    let mut ids = BTreeMap::new();
    ids.insert("store_id", store["id"].as_str().unwrap().to_owned());
    ids.insert("department_id", store["departments"][0]["id"].as_str().unwrap().to_owned());
    ids.insert("reply_id", reply["id"].as_str().unwrap().to_owned());
    ids.insert("key_id", key["key"]["id"].as_str().unwrap().to_owned());
    ids.insert("expert_id", expert["expert"]["id"].as_str().unwrap().to_owned());
    ids.insert("shopper_id", shopper.id.to_string());
    ids.insert("merchant_id", merchant_id.to_owned());
    ids.insert("account_id", session["account"]["id"].as_str().unwrap().to_owned());
    // A webhook endpoint and a delivery to it (a test event), and an outbox message.
    let (s, ep) = admin.post("/api/v1/webhooks", json!({"url": "https://hooks.invalid/matrix"})).await;
    assert_eq!(s, StatusCode::CREATED, "{ep}");
    let endpoint = ep["endpoint"]["id"].as_str().unwrap().to_owned();
    let (s, delivery) = admin.post(&format!("/api/v1/webhooks/{endpoint}/test"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{delivery}");
    ids.insert("endpoint_id", endpoint);
    ids.insert("delivery_id", delivery["id"].as_str().unwrap().to_owned());
    ids.insert("message_id", delivery["id"].as_str().unwrap().to_owned());
    ids.insert("channel", "email".to_owned());
    ids.insert("address", format!("matrix-{}@x.example", &merchant_id[4..12]));
    let conv = uuid::Uuid::now_v7().to_string();
    ids.insert("conversation_id", conv);
    // Order ids are the merchant's own strings: each merchant gets a distinct one.
    let order_id = format!("ORDER-{}", &merchant_id[4..12]);
    let (s, order) = admin
        .post(
            "/api/v1/orders",
            json!({"order_id": order_id, "shopper_id": shopper.id.to_string(), "amount": "10", "currency": "EUR"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    ids.insert("order_id", order_id);
    // Demos belong to the operator, not to a merchant; any id does for the 401/403 checks.
    ids.insert("demo_id", uuid::Uuid::now_v7().to_string());
    // A waiting chat of the shopper with a photo the shopper sent (photos, issue 24).
    let conversation_id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO conversations (id, merchant_id, shopper_id, store_id, department_id, status, created_at, queued_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, $6)",
    )
    .bind(&conversation_id)
    .bind(merchant_id)
    .bind(shopper.id.as_str())
    .bind(&ids["store_id"])
    .bind(&ids["department_id"])
    .bind(floorwalker::now_ms())
    .execute(&app.db.pool)
    .await
    .unwrap();
    let (s, _) = admin
        .call(
            Method::PUT,
            "/api/v1/settings/attachments",
            Some(json!({"shopper_uploads": true, "retention_days": 30})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let shopper_token = app.hub.shopper_token(merchant_id, shopper.id.as_str());
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .encode_image(&image::RgbImage::new(8, 8))
        .unwrap();
    let res = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/widget/conversations/{conversation_id}/attachments?merchant={merchant_id}",
            app.url
        ))
        .bearer_auth(&shopper_token)
        .header("idempotency-key", "matrix")
        .body(jpeg)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let photo: Value = res.json().await.unwrap();
    // A device of the expert and an alert to it (Web Push, issue 23).
    let now = floorwalker::now_ms();
    let subscription_id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO push_subscriptions (id, merchant_id, expert_id, endpoint, p256dh, auth, lang, user_agent, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'k', 'a', 'en', 'matrix', $5, $5)",
    )
    .bind(&subscription_id)
    .bind(merchant_id)
    .bind(&ids["expert_id"])
    .bind(format!("https://push.invalid/{subscription_id}"))
    .bind(now)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let alert_id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO push_alerts (id, merchant_id, expert_id, conversation_id, store_id, department_id, subscription_id, receipt, \
         channel, state, queued_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'push', 'handed', $9, $9, $9)",
    )
    .bind(&alert_id)
    .bind(merchant_id)
    .bind(&ids["expert_id"])
    .bind(&conversation_id)
    .bind(&ids["store_id"])
    .bind(&ids["department_id"])
    .bind(&subscription_id)
    .bind(format!("receipt-{alert_id}"))
    .bind(now)
    .execute(&app.db.pool)
    .await
    .unwrap();
    ids.insert("subscription_id", subscription_id);
    ids.insert("alert_id", alert_id);
    ids.insert("conversation_id", conversation_id);
    ids.insert("attachment_id", photo["id"].as_str().unwrap().to_owned());
    ids.insert("variant", "full".into());
    ids.insert("shopper_token", shopper_token);
    // A product and a cart sent to the shopper (issue 22).
    let sku = format!("MX-{}", &merchant_id[4..12]);
    let (s, product) = admin
        .post(
            "/api/v1/catalogue/products",
            json!({"sku": sku, "name": "Matrix product", "price": "10.00", "currency": "EUR", "vat_rate": "25"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{product}");
    let cart_id = uuid::Uuid::now_v7().to_string();
    let cart = floorwalker::commerce::store::NewCart {
        id: cart_id.clone(),
        conversation_id: floorwalker::ids::ConversationId::parse(&ids["conversation_id"]).unwrap(),
        shopper_id: ids["shopper_id"].clone(),
        expert_id: ids["expert_id"].clone(),
        store_id: ids["store_id"].clone(),
        status: "awaiting_payment",
        checkout_mode: "hosted".into(),
        currency: "EUR".into(),
        items: 1,
        total_minor: 1000,
        quote_valid_until: None,
        expires_at: floorwalker::now_ms() + 3_600_000,
        replaces: None,
    };
    let line = floorwalker::commerce::cart::Line {
        sku: Some(sku.clone()),
        product_id: product["id"].as_str().map(str::to_owned),
        name: "Matrix product".into(),
        image_url: None,
        product_url: None,
        quantity: 1,
        unit_minor: 1000,
        original_minor: None,
        vat_bp: 2500,
    };
    app.db.insert_cart(&m, &cart, &[line]).await.unwrap();
    ids.insert("product_id", product["id"].as_str().unwrap().to_owned());
    ids.insert("sku", sku);
    ids.insert("cart_id", cart_id.clone());
    ids.insert("cart_ref", cart_id);
    Ids(ids)
}

/// Ids that are not secrets of one merchant (the same word for everyone, or a credential).
const NOT_IDS: [&str; 3] = ["variant", "shopper_token", "channel"];

fn fill(template: &str, ids: &Ids) -> String {
    let mut out = template.to_owned();
    for (name, id) in &ids.0 {
        out = out.replace(&format!("{{{name}}}"), id);
    }
    assert!(!out.contains('{'), "no id for a parameter in {template}");
    out
}

/// A valid body for each write route, so a 404 for a foreign id is the real answer and not a
/// body validation error in front of it.
fn body_for(method: &Method, template: &str, own: &Ids, display: &Value, routing: &Value) -> Option<Value> {
    let n = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    Some(match (method.as_str(), template) {
        ("POST", "/api/v1/stores") => json!({"name": "M", "timezone": "Europe/Berlin"}),
        ("PATCH", "/api/v1/stores/{store_id}") => json!({"name": "Renamed"}),
        ("POST", "/api/v1/stores/{store_id}/departments") => json!({"name": format!("Dep {n}")}),
        ("PATCH", "/api/v1/departments/{department_id}") => json!({"name": format!("Dep {n}")}),
        ("PATCH", "/api/v1/team/experts/{expert_id}") => json!({"max_chats": 4}),
        ("PUT", "/api/v1/team/experts/{expert_id}/assignments") => {
            json!({"store_ids": [], "department_ids": []})
        }
        ("POST", "/api/v1/team/experts/{expert_id}/reassign-contacts") => {
            json!({"to_expert_id": own.0["expert_id"]})
        }
        ("PUT", "/api/v1/settings/display") => display.clone(),
        ("PUT", "/api/v1/settings/routing") => routing.clone(),
        ("PUT", "/api/v1/settings/origins") => json!({"origins": []}),
        ("PUT", "/api/v1/settings/attachments") => json!({"shopper_uploads": true, "retention_days": 30}),
        ("POST", "/api/v1/saved-replies") => {
            json!({"shortcut": format!("s{n}"), "title": "t", "body": "b"})
        }
        ("PUT", "/api/v1/saved-replies/{reply_id}") => {
            json!({"shortcut": format!("s{n}"), "title": "t", "body": "b"})
        }
        ("POST", "/api/v1/api-keys") => json!({"name": "k"}),
        ("POST", "/api/v1/app/push/alerts/{alert_id}/report") => json!({"event": "shown"}),
        ("PATCH", "/api/v1/shoppers/{shopper_id}") => json!({"name": "N"}),
        ("POST", "/api/v1/webhooks") => json!({"url": "https://hooks.invalid/x"}),
        ("PATCH", "/api/v1/webhooks/{endpoint_id}") => json!({"description": "renamed"}),
        ("POST", "/api/v1/team/invitations") => json!({"emails": ["matrix@x.example"]}),
        ("PUT", "/api/v1/settings/messaging") => json!({"sender_name": "M", "sender_address": null, "reply_to": null,
            "sms": {"enabled": false, "base_url": "https://api.twilio.com", "account_sid": "", "from": ""}, "away_email_after_min": 0}),
        ("POST", "/api/v1/widget/conversations/{conversation_id}/transcript/email") => json!({"email": "kim@x.example"}),
        ("POST", "/api/v1/widget/reopen") => json!({"token": "not-a-link"}),
        ("POST", "/api/v1/app/conversations/{conversation_id}/transcript") => json!({"email": "kim@x.example"}),
        ("POST", "/api/v1/catalogue/products") | ("PUT", "/api/v1/catalogue/products/{product_id}") => {
            json!({"sku": format!("S-{n}"), "name": "P", "price": "1", "currency": "EUR", "vat_rate": "25"})
        }
        ("PUT", "/api/v1/catalogue/skus/{sku}") => {
            json!({"sku": own.0["sku"], "name": "P", "price": "1", "currency": "EUR", "vat_rate": "25"})
        }
        ("POST", "/api/v1/app/conversations/{conversation_id}/carts") | ("POST", "/api/v1/app/carts/preview") => {
            json!({"lines": [{"sku": own.0["sku"], "quantity": 1}]})
        }
        ("PUT", "/api/v1/settings/checkout") => json!({"mode": "off"}),
        ("POST", "/api/v1/orders/{order_id}/stage") => json!({"stage": "in_progress"}),
        ("POST", "/api/v1/app/carts/{cart_id}/send") => json!({"channel": "email", "to": "kim@x.example"}),
        ("POST", "/api/v1/orders/{order_id}/notes") => json!({"text": "matrix"}),
        ("POST", "/api/v1/settings/checkout/discover") => json!({"shop_url": "https://shop.invalid"}),
        ("GET" | "DELETE", _) => return None,
        _ => json!({}),
    })
}

async fn send(c: &Client, method: &Method, path: &str, body: Option<Value>) -> StatusCode {
    if path.ends_with("/import") {
        return c
            .request(method.clone(), path)
            .header("content-type", "text/csv")
            .body("shortcut,title,body\r\n")
            .send()
            .await
            .unwrap()
            .status();
    }
    c.call(method.clone(), path, body).await.0
}

async fn snapshot(c: &Client) -> Value {
    let mut out = serde_json::Map::new();
    for p in [
        "/api/v1/stores",
        "/api/v1/team/experts",
        "/api/v1/saved-replies",
        "/api/v1/api-keys",
        "/api/v1/settings/display",
        "/api/v1/settings/routing",
        "/api/v1/settings/origins",
        "/api/v1/settings/attachments",
        "/api/v1/team/invite-code",
        "/api/v1/catalogue/products",
        "/api/v1/settings/checkout",
    ] {
        let (s, v) = c.get(p).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        out.insert(p.to_owned(), v);
    }
    Value::Object(out)
}

async fn authorization_matrix(b: Backend) {
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (a_id, a_admin) = app.merchant(&op, "Alpha").await;
    let (b_id, b_admin) = app.merchant(&op, "Beta").await;
    let own = merchant_ids(&app, &a_admin, &a_id).await;
    let foreign = merchant_ids(&app, &b_admin, &b_id).await;
    let display = a_admin.get("/api/v1/settings/display").await.1;
    let routing = a_admin.get("/api/v1/settings/routing").await.1;

    // One account per module, holding every module but that one.
    let mut lacking: BTreeMap<&str, Client> = BTreeMap::new();
    for m in MODULES {
        let email = format!("no-{m}@alpha.example");
        let modules: Vec<&str> = MODULES.iter().copied().filter(|x| *x != m).collect();
        let (s, _) = op
            .post(
                "/api/v1/access/accounts",
                json!({"merchant_id": a_id, "role": "merchant", "email": email, "name": m, "password": DEMO_PASSWORD, "modules": modules}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        lacking.insert(m, app.login(&email, DEMO_PASSWORD).await);
    }
    let (_, key) = a_admin.post("/api/v1/api-keys", json!({"name": "matrix key"})).await;
    let api_key = app.client().with_bearer(key["secret"].as_str().unwrap());
    let (_, expert_login) = app.client().post("/api/v1/app/signup", json!({"invite_code": a_admin.get("/api/v1/team/invite-code").await.1["invite_code"], "email": "tok@alpha.example", "name": "T", "password": DEMO_PASSWORD})).await;
    let expert = app.client().with_bearer(expert_login["token"].as_str().unwrap());
    // Approved, so that store-app routes reach their tenant checks (a pending expert gets 403).
    let (s, _) = a_admin
        .post(
            &format!("/api/v1/team/experts/{}/approve", expert_login["expert"]["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let shopper = app.client().with_bearer(&own.0["shopper_token"]);
    let anonymous = app.client();
    let b_before = snapshot(&b_admin).await;

    let doc = app.client().get("/api/openapi.json").await.1;
    let mut checked = 0;
    let failures = std::cell::RefCell::new(Vec::<String>::new());
    let expect = |what: String, got: StatusCode, want: &[StatusCode]| {
        if !want.contains(&got) {
            failures.borrow_mut().push(format!("{what}: got {got}, want {want:?}"));
        }
    };
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for (method, op_doc) in ops.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let tag = op_doc["tags"][0].as_str().unwrap_or("");
            let own_path = fill(template, &own);
            let body = || body_for(&method, template, &own, &display, &routing);
            let what = |who: &str| format!("{method} {template} as {who}");
            match tag {
                "auth" | "store_app" => {
                    // Per-user routes: only sign-in and sign-up are open to anonymous callers.
                    let open = template.ends_with("/login") || template.ends_with("/signup");
                    if !open {
                        expect(
                            what("anonymous"),
                            send(&anonymous, &method, &own_path, body()).await,
                            &[StatusCode::UNAUTHORIZED],
                        );
                    }
                    if template.contains('{') {
                        expect(
                            what("expert with foreign ids"),
                            send(&expert, &method, &fill(template, &foreign), body()).await,
                            &[StatusCode::NOT_FOUND],
                        );
                    }
                }
                "widget" => {
                    // The shopper token: none is 401; another merchant's ids are 404; the
                    // token presented for another merchant is 401.
                    let q = |path: String, m: &str| format!("{path}?merchant={m}");
                    expect(
                        what("anonymous"),
                        send(&anonymous, &method, &q(own_path.clone(), &a_id), body()).await,
                        &[StatusCode::UNAUTHORIZED],
                    );
                    expect(
                        what("expert token"),
                        send(&expert, &method, &q(own_path.clone(), &a_id), body()).await,
                        &[StatusCode::UNAUTHORIZED],
                    );
                    expect(
                        what("shopper token for another merchant"),
                        send(&shopper, &method, &q(own_path.clone(), &b_id), body()).await,
                        &[StatusCode::UNAUTHORIZED],
                    );
                    if template.contains('{') {
                        expect(
                            what("shopper with foreign ids"),
                            send(&shopper, &method, &q(fill(template, &foreign), &a_id), body()).await,
                            &[StatusCode::NOT_FOUND],
                        );
                    }
                }
                "files" => {
                    // Only signed URLs open files: unsigned, for anyone, is 404.
                    for (who, c) in [("anonymous", &anonymous), ("merchant admin", &a_admin), ("shopper", &shopper)] {
                        expect(what(who), send(c, &method, &own_path, None).await, &[StatusCode::NOT_FOUND]);
                    }
                }
                "access" | "demo" => {
                    expect(
                        what("anonymous"),
                        send(&anonymous, &method, &own_path, body()).await,
                        &[StatusCode::UNAUTHORIZED],
                    );
                    expect(
                        what("merchant admin"),
                        send(&a_admin, &method, &own_path, body()).await,
                        &[StatusCode::FORBIDDEN],
                    );
                    expect(
                        what("expert token"),
                        send(&expert, &method, &own_path, body()).await,
                        &[StatusCode::UNAUTHORIZED],
                    );
                    expect(
                        what("API key"),
                        send(&api_key, &method, &own_path, body()).await,
                        &[StatusCode::UNAUTHORIZED],
                    );
                    for (m, c) in &lacking {
                        expect(
                            what(&format!("account without {m}")),
                            send(c, &method, &own_path, body()).await,
                            &[StatusCode::FORBIDDEN],
                        );
                    }
                }
                m if MODULES.contains(&m) => {
                    expect(
                        what("anonymous"),
                        send(&anonymous, &method, &own_path, body()).await,
                        &[StatusCode::UNAUTHORIZED],
                    );
                    expect(
                        what("operator"),
                        send(&op, &method, &own_path, body()).await,
                        &[StatusCode::FORBIDDEN],
                    );
                    expect(
                        what("expert token"),
                        send(&expert, &method, &own_path, body()).await,
                        &[StatusCode::UNAUTHORIZED],
                    );
                    expect(
                        what(&format!("account without {m}")),
                        send(&lacking[m], &method, &own_path, body()).await,
                        &[StatusCode::FORBIDDEN],
                    );
                    let key_allowed = API_KEY_MODULES.contains(&m);
                    if !key_allowed {
                        expect(
                            what("API key"),
                            send(&api_key, &method, &own_path, body()).await,
                            &[StatusCode::FORBIDDEN],
                        );
                    }
                    if template == "/api/v1/catalogue/skus/{sku}" {
                        // An upsert by the caller's own article number: another merchant's
                        // SKU names nothing of theirs (their catalogue is checked untouched
                        // below), so only the credentials are checked here.
                    } else if template.contains('{') {
                        let foreign_path = fill(template, &foreign);
                        expect(
                            what("admin with foreign ids"),
                            send(&a_admin, &method, &foreign_path, body()).await,
                            &[StatusCode::NOT_FOUND],
                        );
                        if key_allowed {
                            expect(
                                what("API key with foreign ids"),
                                send(&api_key, &method, &foreign_path, body()).await,
                                &[StatusCode::NOT_FOUND],
                            );
                        }
                    } else if method == Method::GET {
                        let text = a_admin.request(Method::GET, &own_path).send().await.unwrap().text().await.unwrap();
                        for (name, id) in foreign.0.iter().filter(|(n, _)| !NOT_IDS.contains(n)) {
                            if text.contains(id.as_str()) {
                                failures
                                    .borrow_mut()
                                    .push(format!("GET {template} shows the other merchant's {name}"));
                            }
                        }
                    }
                }
                "public" => {
                    // Public by design (what the widget needs): answers anyone for a real merchant,
                    // 404 for an unknown one, and never needs a credential.
                    let q = format!("{own_path}?merchant={a_id}");
                    expect(what("anonymous"), send(&anonymous, &method, &q, None).await, &[StatusCode::OK]);
                    let bogus = format!("{own_path}?merchant=mer_00000000000000000000000000000000");
                    expect(
                        what("anonymous, unknown merchant"),
                        send(&anonymous, &method, &bogus, None).await,
                        &[StatusCode::NOT_FOUND],
                    );
                }
                other => failures.borrow_mut().push(format!(
                    "{method} {template} has no known tag ({other:?}): every route must name its module"
                )),
            }
            checked += 1;
        }
    }
    let failures = failures.into_inner();
    assert!(failures.is_empty(), "authorization failures:\n{}", failures.join("\n"));
    assert!(checked >= 40, "only {checked} operations in the OpenAPI document");

    // A header or body cannot pick the tenant: the store lands with the session's merchant.
    let (s, _) = a_admin
        .request(Method::POST, "/api/v1/stores")
        .header("x-merchant-id", &b_id)
        .json(&json!({"name": "Header trick", "timezone": "Europe/Berlin"}))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = a_admin
        .post(
            "/api/v1/stores",
            json!({"name": "Body trick", "timezone": "Europe/Berlin", "merchant_id": b_id}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are rejected");
    assert_eq!(snapshot(&b_admin).await, b_before, "the other merchant's data is untouched");
    eprintln!("authorization matrix: {checked} operations checked");
    app.stop().await;
}
