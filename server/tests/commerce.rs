//! Issue 22 from outside: catalogue, search, carts in the chat, pay links and QR codes,
//! UCP permalinks, orders from carts — on both backends, with real sockets.

mod common;

use std::time::Duration;

use common::*;
use floorwalker::protocol::Out;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn api_key(admin: &Client) -> Client {
    let (s, k) = admin.post("/api/v1/api-keys", json!({"name": "shop"})).await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    admin.with_bearer(k["secret"].as_str().unwrap())
}

fn product(sku: &str, name: &str, price: &str, vat: &str) -> Value {
    json!({"sku": sku, "name": name, "price": price, "currency": "SEK", "vat_rate": vat,
           "product_url": format!("https://shop.example/p/{sku}")})
}

async fn spawn(b: Backend) -> TestApp {
    TestApp::spawn_with(b, |a| {
        a.demo = true;
        a.demo_password = Some(floorwalker::config::Secret::new(DEMO_PASSWORD));
        a.outbound.allow_private_webhooks = true;
        a.outbound.outbound_speedup = 1000;
    })
    .await
}

async fn catalogue_by_api_key_csv_and_dashboard(b: Backend) {
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Cat Shop").await;
    let (_, other_admin) = app.merchant(&op, "Other Shop").await;
    let key = api_key(&admin).await;
    let other_key = api_key(&other_admin).await;

    // Upsert by SKU: created, unchanged, updated.
    let p = product("TV-55", "OLED TV 55\"", "12990.00", "25");
    let (s, created) = key.call(Method::PUT, "/api/v1/catalogue/skus/TV-55", Some(p.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["price"], "12990.00");
    assert_eq!(created["vat_rate"], "25");
    let (s, again) = key.call(Method::PUT, "/api/v1/catalogue/skus/TV-55", Some(p.clone())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["id"], created["id"]);
    assert_eq!(again["updated_at"], created["updated_at"], "unchanged");
    let mut p2 = p.clone();
    p2["price"] = json!("11990");
    let (s, upd) = key.call(Method::PUT, "/api/v1/catalogue/skus/TV-55", Some(p2)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(upd["price"], "11990.00");

    // Bad input: clear errors, nothing changes.
    let mut bad = product("X 1", "", "-1", "101");
    bad["currency"] = json!("SEK");
    bad["image_url"] = json!("javascript:alert(1)");
    let (s, prob) = key.post("/api/v1/catalogue/products", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{prob}");
    let fields: Vec<&str> = prob["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["sku", "name", "price", "vat_rate", "image_url"] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    let (s, _) = key
        .post(
            "/api/v1/catalogue/products",
            json!({"sku": "Y", "name": "Y", "price": "1.005", "currency": "EUR", "vat_rate": "25"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "more decimals than EUR has");
    let (s, _) = key.post("/api/v1/catalogue/products", product("TV-55", "dup", "1", "25")).await;
    assert_eq!(s, StatusCode::CONFLICT, "SKU unique per merchant");

    // Batch: all or nothing.
    let batch = json!({"products": [product("A-1", "Alpha", "10", "25"), product("A-2", "Beta", "oops", "25")]});
    let (s, prob) = key.post("/api/v1/catalogue/products/batch", batch).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(prob["errors"][0]["field"], "products[1].price");
    let (_, list) = key.get("/api/v1/catalogue/products").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "nothing of the bad batch stored");
    let batch = json!({"products": [product("A-1", "Alpha", "10", "25"), product("A-2", "Beta", "20", "12"), product("TV-55", "OLED TV 55\"", "11990.00", "25")]});
    let (s, sum) = key.post("/api/v1/catalogue/products/batch", batch).await;
    assert_eq!(s, StatusCode::OK, "{sum}");
    assert_eq!(sum, json!({"created": 2, "updated": 0, "unchanged": 1}));
    // Existing rows are read for the whole batch at once: an update, a new one, an unchanged one.
    let batch = json!({"products": [product("A-1", "Alpha 2", "12", "25"), product("A-3", "Gamma", "5", "25"), product("A-2", "Beta", "20", "12")]});
    let (s, sum) = key.post("/api/v1/catalogue/products/batch", batch).await;
    assert_eq!(s, StatusCode::OK, "{sum}");
    assert_eq!(sum, json!({"created": 1, "updated": 1, "unchanged": 1}));
    let (_, a1) = key.get("/api/v1/catalogue/products?q=A-1").await;
    assert_eq!(
        (a1["items"][0]["name"].as_str(), a1["items"][0]["price"].as_str()),
        (Some("Alpha 2"), Some("12.00")),
        "{a1}"
    );
    // New products go in several to a statement (32 + 4 + 1 here): each with its own values.
    let many: Vec<Value> = (1..=37)
        .map(|i| product(&format!("M-{i:02}"), &format!("Many {i}"), &format!("{i}.50"), "25"))
        .chain([product("A-3", "Gamma 2", "6", "25")])
        .collect();
    let (s, sum) = key.post("/api/v1/catalogue/products/batch", json!({"products": many})).await;
    assert_eq!(s, StatusCode::OK, "{sum}");
    assert_eq!(sum, json!({"created": 37, "updated": 1, "unchanged": 0}));
    for i in [1, 32, 33, 36, 37] {
        let (_, found) = key.get(&format!("/api/v1/catalogue/products?q=M-{i:02}")).await;
        assert_eq!(
            (found["items"][0]["name"].as_str(), found["items"][0]["price"].as_str()),
            (Some(format!("Many {i}").as_str()), Some(format!("{i}.50").as_str())),
            "{found}"
        );
    }

    // CSV import: a broken file changes nothing and names every bad row.
    let broken = "sku,name,price,currency,vat_rate,active\nB-1,Bread,25.50,SEK,12,true\nB-2,,1,SEK,12,true\nB-3,Jam,1.234,SEK,12,maybe\n";
    let res = admin
        .request(Method::POST, "/api/v1/catalogue/import")
        .header("content-type", "text/csv")
        .body(broken)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let prob: Value = res.json().await.unwrap();
    let fields: Vec<&str> = prob["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"row 3.name") && fields.contains(&"row 4.price") && fields.contains(&"row 4.active"),
        "{fields:?}"
    );
    let (_, list) = admin.get("/api/v1/catalogue/products?q=bread").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let good = "\u{feff}sku,name,description,price,currency,vat_rate,gtin,active\nB-1,Bread,\"Sourdough, 800 g\",25.50,SEK,12,7350012345678,yes\n'=EVIL,=cmd|' /C calc'!A0,,1,SEK,25,,no\n";
    let res = admin
        .request(Method::POST, "/api/v1/catalogue/import")
        .header("content-type", "text/csv")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"created": 2, "updated": 0, "unchanged": 0})
    );
    let (_, bread) = admin.get("/api/v1/catalogue/products?q=sourdough").await;
    assert_eq!(bread["items"].as_array().unwrap().len(), 0, "list search is by SKU and name");
    let (_, bread) = admin.get("/api/v1/catalogue/products?q=BREAD").await;
    assert_eq!(bread["items"][0]["description"], "Sourdough, 800 g");
    assert_eq!(bread["items"][0]["gtin"], "7350012345678");

    // Export: formula-neutralised, X-Row-Count.
    let res = key.request(Method::GET, "/api/v1/catalogue/export.csv").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let count: usize = res.headers()["x-row-count"].to_str().unwrap().parse().unwrap();
    let text = res.text().await.unwrap();
    // The columns docs/commerce.md lists (the import's), one cell per column in every row.
    let (_, rows) = csv_as_documented(
        &text,
        &documented_columns("docs/commerce.md", "CSV columns (header row required"),
        &[],
    );
    assert_eq!(count, 6 + 37, "six and the 37 of the multi-statement batch");
    assert_eq!(rows.len(), 6 + 37);
    assert!(
        rows.iter()
            .any(|r| &r[0] == "'=EVIL" && &r[1] == "'=cmd|' /C calc'!A0" && &r[9] == "false"),
        "{text}"
    );

    // Dashboard CRUD, and another merchant sees none of it.
    let id = created["id"].as_str().unwrap();
    let (s, _) = other_key.get(&format!("/api/v1/catalogue/products/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = other_admin
        .call(Method::DELETE, &format!("/api/v1/catalogue/products/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, other_list) = other_key.get("/api/v1/catalogue/products").await;
    assert_eq!(other_list["items"].as_array().unwrap().len(), 0);
    let mut edit = product("TV-55", "OLED TV 55\" (2026)", "11990.00", "25");
    edit["active"] = json!(false);
    let (s, e) = admin
        .call(Method::PUT, &format!("/api/v1/catalogue/products/{id}"), Some(edit))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["active"], false);
    let (s, _) = admin.call(Method::DELETE, &format!("/api/v1/catalogue/products/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = admin.get(&format!("/api/v1/catalogue/products/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn expert_token(app: &TestApp, email: &str) -> Client {
    let (s, b) = app
        .client()
        .post("/api/v1/app/login", json!({"email": email, "password": DEMO_PASSWORD}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.client().with_bearer(b["token"].as_str().unwrap())
}

async fn search_finds_names_fragments_article_numbers_and_accents(b: Backend) {
    let app = spawn(b).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let key = api_key(&admin).await;
    let items = json!({"products": [
        product("ESP-100", "Gâteau Rösti Espresso Machine", "4990", "25"),
        product("ESP-1000", "Espresso cups, 6 pack", "299", "25"),
        product("KAF-22", "Kaffebryggare Moccamaster", "2790", "25"),
        product("100-ESP", "Descaler for espresso machines", "99", "25"),
        {"sku": "GTIN-1", "name": "Smörgåsbord plate", "price": "149", "currency": "SEK", "vat_rate": "25", "gtin": "7310865004703"},
        {"sku": "OFF-1", "name": "Espresso tamper (discontinued)", "price": "1", "currency": "SEK", "vat_rate": "25", "active": false},
        product("E", "Eraser for espresso labels", "5", "25"),
    ]});
    let (s, _) = key.post("/api/v1/catalogue/products/batch", items).await;
    assert_eq!(s, StatusCode::OK);
    let expert = expert_token(&app, "expert1@demo.example").await;
    let skus = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["sku"].as_str().unwrap().to_owned())
            .collect()
    };
    let q = |s: &str| format!("/api/v1/app/catalogue/search?q={}", urlencode(s));

    let (s, v) = expert.get(&q("esp-100")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(skus(&v)[0], "ESP-100", "the exact article number first, whatever the case");
    assert_eq!(skus(&v)[1], "ESP-1000", "then article-number prefixes");
    let (_, v) = expert.get(&q("gateau rosti")).await;
    assert_eq!(skus(&v), vec!["ESP-100"], "accents ignored");
    let (_, v) = expert.get(&q("ESPRE")).await;
    let found = skus(&v);
    for s in ["ESP-100", "ESP-1000", "100-ESP"] {
        assert!(found.contains(&s.to_owned()), "fragment finds {s}: {found:?}");
    }
    assert!(!found.contains(&"OFF-1".to_owned()), "inactive products are not offered");
    let (_, v) = expert.get(&q("mocca")).await;
    assert_eq!(skus(&v), vec!["KAF-22"]);
    let (_, v) = expert.get(&q("smorgas")).await;
    assert_eq!(skus(&v), vec!["GTIN-1"]);
    let (_, v) = expert.get(&q("7310865004703")).await;
    assert_eq!(skus(&v), vec!["GTIN-1"], "GTIN exact");
    // One character is a prefix of most of a catalogue: it finds an exact article number only.
    let (s, v) = expert.get(&q("e")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(skus(&v), vec!["E"], "the exact SKU, not every name with a word starting with e");
    let (_, v) = expert.get(&q(" É ")).await;
    assert_eq!(skus(&v), vec!["E"], "folded like any query");
    let (_, v) = expert.get(&q("a")).await;
    assert_eq!(skus(&v), Vec::<String>::new(), "no exact hit: nothing, not the whole catalogue");
    let (_, v) = expert.get(&q("e s")).await;
    assert_eq!(skus(&v), Vec::<String>::new(), "every word one character long");
    let (_, v) = expert.get(&q("es")).await;
    let found = skus(&v);
    assert!(
        found.contains(&"ESP-100".to_owned()) && found.contains(&"E".to_owned()),
        "two characters search names: {found:?}"
    );
    let (_, v) = expert.get(&q("kaffe m")).await;
    assert_eq!(skus(&v), vec!["KAF-22"], "a short word beside a longer one still narrows");
    let (_, v) = expert.get(&q("\"*) OR 1=1 --")).await;
    assert!(v["items"].is_array(), "query syntax is never interpreted: {v}");
    let (s, _) = expert.get("/api/v1/app/catalogue/search?q=x&limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app.client().get(&q("espresso")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Messages on a socket until `pred` (returns the message view).
async fn until_message(
    ws: &mut Ws,
    what: &str,
    pred: impl Fn(&floorwalker::protocol::MessageView) -> bool,
) -> floorwalker::protocol::MessageView {
    match ws.until(what, |o| matches!(o, Out::Message { message } if pred(message))).await {
        Out::Message { message } => message,
        _ => unreachable!(),
    }
}

async fn a_cart_goes_from_the_chat_to_paid(b: Backend) {
    let app = spawn(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let key = api_key(&admin).await;
    let (s, _) = key
        .post(
            "/api/v1/catalogue/products/batch",
            json!({"products": [product("TV-55", "OLED <b>TV</b> 55\"", "12990.00", "25"), product("BOOK-1", "Cookbook", "199.00", "6")]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, set) = admin
        .call(
            Method::PUT,
            "/api/v1/settings/checkout",
            Some(json!({"mode": "hosted", "checkout_url": "https://shop.example/checkout", "link_hours": 48})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{set}");

    let (mut expert_ws_, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, shopper_id, shopper_token) = shopper_ws(&app, &m, None).await;
    let conv = start_chat(&mut shopper, &store, &dep, "Which TV?").await;
    claim(&mut expert_ws_, &conv).await;
    let expert = expert_token(&app, "expert1@demo.example").await;

    let input = json!({"lines": [
        {"sku": "TV-55", "quantity": 1, "unit_price": "11990.00"},
        {"sku": "BOOK-1", "quantity": 3},
        {"text": "Installation <script>", "quantity": 1, "unit_price": "499"}
    ]});
    // Bad carts change nothing.
    for (bad, field) in [
        (json!({"lines": [{"sku": "TV-55", "quantity": 0}]}), "lines[0].quantity"),
        (json!({"lines": [{"sku": "TV-55", "quantity": 1000}]}), "lines[0].quantity"),
        (
            json!({"lines": [{"sku": "TV-55", "quantity": 1, "unit_price": "1.001"}]}),
            "lines[0].unit_price",
        ),
        (json!({"lines": [{"sku": "NOPE", "quantity": 1}]}), "lines[0].sku"),
        (json!({"lines": [{"text": "x", "quantity": 1}]}), "lines[0].unit_price"),
        (json!({"lines": []}), "lines"),
    ] {
        let (s, p) = expert.post(&format!("/api/v1/app/conversations/{conv}/carts"), bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert!(p["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{field}: {p}");
    }
    let many: Vec<Value> = (0..101).map(|_| json!({"sku": "BOOK-1", "quantity": 1})).collect();
    let (s, _) = expert
        .post(&format!("/api/v1/app/conversations/{conv}/carts"), json!({"lines": many}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, none) = expert.get(&format!("/api/v1/app/conversations/{conv}/carts")).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "no bad cart was stored");

    let (s, preview) = expert.post("/api/v1/app/carts/preview", input.clone()).await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(preview["total"], "13086.00");
    assert_eq!(preview["id"], Value::Null);

    let (s, cart) = expert.post(&format!("/api/v1/app/conversations/{conv}/carts"), input).await;
    assert_eq!(s, StatusCode::CREATED, "{cart}");
    assert_eq!(cart["status"], "awaiting_payment");
    assert_eq!(cart["total"], "13086.00");
    assert_eq!(cart["items"], 5);
    assert_eq!(cart["vat_total"], "2531.59");
    assert_eq!(cart["lines"][0]["original_unit_price"], "12990.00");
    assert_eq!(cart["lines"][2]["sku"], Value::Null);
    let cart_id = cart["id"].as_str().unwrap().to_owned();
    let pay_url = cart["pay_url"].as_str().unwrap().to_owned();
    assert!(pay_url.starts_with(&format!("{}/pay/", app.url)), "{pay_url}");

    // The card reaches both sides live, and sync returns it stored.
    let on_shopper = until_message(&mut shopper, "cart card", |m| m.kind == "cart").await;
    assert_eq!(on_shopper.data.as_ref().unwrap()["id"], cart_id.as_str());
    assert_eq!(on_shopper.data.as_ref().unwrap()["total"], "13086.00");
    assert_eq!(on_shopper.body, "Cart: 5 items, 13086.00 SEK");
    let on_expert = until_message(&mut expert_ws_, "cart card", |m| m.kind == "cart").await;
    assert_eq!(on_expert.seq, on_shopper.seq);
    shopper.send(json!({"type": "sync", "conversation_id": conv, "after_seq": 0})).await;
    let synced = shopper.until("messages", |o| matches!(o, Out::Messages { .. })).await;
    let Out::Messages { messages, .. } = synced else { unreachable!() };
    assert!(messages
        .iter()
        .any(|x| x.kind == "cart" && x.data.as_ref().unwrap()["id"] == cart_id.as_str()));

    // The shopper reads it; another shopper cannot.
    let widget = app.client().with_bearer(&shopper_token);
    let (s, w) = widget.get(&format!("/api/v1/widget/carts/{cart_id}?merchant={m}")).await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w["shopper_id"], shopper_id.as_str());
    let (_, _, stranger_token) = shopper_ws(&app, &m, None).await;
    let (s, _) = app
        .client()
        .with_bearer(&stranger_token)
        .get(&format!("/api/v1/widget/carts/{cart_id}?merchant={m}"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The QR code on the expert's screen decodes to the pay link.
    let res = expert
        .request(Method::GET, &format!("/api/v1/app/carts/{cart_id}/qr.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    let svg = res.text().await.unwrap();
    assert_eq!(decode_qr_svg(&svg), pay_url);

    // The pay page: branded, escaped, continues to the checkout with a signed reference.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = plain.get(&pay_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("OLED &lt;b&gt;TV&lt;") && !html.contains("<b>TV"),
        "text escaped: {html}"
    );
    assert!(!html.contains("<script>"));
    assert!(html.contains("13086.00"));
    assert!(html.contains(r#"lang="en" dir="ltr""#) && html.contains("Your cart"), "{html}");
    // In the browser's language (by q), right to left in Persian.
    let sv = plain
        .get(&pay_url)
        .header("accept-language", "ja, sv-SE;q=0.9, en;q=0.8")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        sv.contains(r#"lang="sv""#) && sv.contains("Din varukorg") && sv.contains("Moms "),
        "{sv}"
    );
    let fa = plain
        .get(format!("{pay_url}x"))
        .header("accept-language", "fa-IR")
        .send()
        .await
        .unwrap();
    assert_eq!(fa.status(), StatusCode::NOT_FOUND);
    let fa = fa.text().await.unwrap();
    assert!(fa.contains(r#"dir="rtl""#) && fa.contains("این پیوند پرداخت معتبر نیست"), "{fa}");
    let go = plain.post(&pay_url).send().await.unwrap();
    assert_eq!(go.status(), StatusCode::SEE_OTHER);
    let location = go.headers()["location"].to_str().unwrap().to_owned();
    let cref = location
        .strip_prefix("https://shop.example/checkout?floorwalker_cart=")
        .expect(&location)
        .to_owned();
    assert!(cref.starts_with("cref_"));
    let forged = plain.get(format!("{pay_url}x")).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);

    // The merchant's server reads the whole cart with its key; another merchant's key cannot.
    let (s, full) = key.get(&format!("/api/v1/carts/{cref}")).await;
    assert_eq!(s, StatusCode::OK, "{full}");
    assert_eq!(full["lines"][2]["name"], "Installation <script>");
    let op = app.operator().await;
    let (_, other_admin) = app.merchant(&op, "Elsewhere").await;
    let other_key = api_key(&other_admin).await;
    assert_eq!(other_key.get(&format!("/api/v1/carts/{cref}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(key.get("/api/v1/carts/cref_AAAA.BBBB").await.0, StatusCode::NOT_FOUND);

    // Paid: the order comes with the reference, and both sides see it in real time.
    let (s, p) = other_key
        .post(
            "/api/v1/orders",
            json!({"order_id": "X-1", "cart_ref": cref, "amount": "1", "currency": "SEK"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another merchant's key: {p}");
    let (s, order) = key
        .post(
            "/api/v1/orders",
            json!({"order_id": "A-1001", "cart_ref": cref, "amount": "13086.00", "currency": "SEK", "status": "paid"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    assert_eq!(order["shopper_id"], shopper_id.as_str());
    assert_eq!(order["conversation_id"], conv.as_str(), "attributed to the chat");
    for ws in [&mut shopper, &mut expert_ws_] {
        let line = until_message(ws, "paid", |m| m.kind == "system" && m.body == "cart_status").await;
        let d = line.data.unwrap();
        assert_eq!(d["status"], "paid");
        assert_eq!(d["cart_id"], cart_id.as_str());
        assert_eq!(d["order_id"], "A-1001");
    }
    let (_, after) = expert.get(&format!("/api/v1/app/carts/{cart_id}")).await;
    assert_eq!(after["status"], "paid");
    assert_eq!(after["order_id"], "A-1001");
    assert_eq!(after["pay_url"], Value::Null);
    assert_eq!(
        plain.get(&pay_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "a paid cart's link is gone"
    );

    // Handling: the flow, required tracking, notes the shopper never sees, the thread.
    let stage = |body: Value| {
        let key = key.clone();
        async move { key.post("/api/v1/orders/A-1001/stage", body).await }
    };
    let (s, p) = stage(json!({"stage": "shipped", "carrier": "PostNord"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["errors"][0]["field"], "tracking_number");
    let (s, _) = stage(json!({"stage": "completed"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "new → completed skips shipping");
    let (s, d) = stage(json!({"stage": "in_progress"})).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let line = until_message(&mut shopper, "in progress", |m| m.body == "order_status").await;
    assert_eq!(line.data.unwrap()["status"], "in_progress");
    let (s, n) = admin
        .post("/api/v1/orders/A-1001/notes", json!({"text": "Customer VIP, gift wrap secretly"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{n}");
    let (s, d) = admin
        .post(
            "/api/v1/orders/A-1001/stage",
            json!({"stage": "shipped", "carrier": "PostNord", "tracking_number": "PN123SE", "tracking_url": "https://tracking.example/PN123SE"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let line = until_message(&mut shopper, "shipped", |m| {
        m.body == "order_status" && m.data.as_ref().unwrap()["status"] == "shipped"
    })
    .await;
    let data = line.data.unwrap();
    assert_eq!(data["tracking_url"], "https://tracking.example/PN123SE");
    assert_eq!(data["tracking_number"], "PN123SE");
    let (s, d) = stage(json!({"stage": "completed"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["order"]["stage"], "completed");
    let (s, _) = stage(json!({"stage": "refunded"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a completed order is closed");
    let history: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["stage"].as_str().unwrap())
        .collect();
    assert_eq!(history, vec!["in_progress", "shipped", "completed"]);
    assert_eq!(d["history"][1]["actor_kind"], "account");
    assert_eq!(d["notes"][0]["body"], "Customer VIP, gift wrap secretly");
    assert_eq!(d["cart"]["lines"][0]["sku"], "TV-55");
    shopper.send(json!({"type": "sync", "conversation_id": conv, "after_seq": 0})).await;
    let Out::Messages { messages, .. } = shopper.until("messages", |o| matches!(o, Out::Messages { .. })).await else {
        unreachable!()
    };
    assert!(
        !serde_json::to_string(&messages).unwrap().contains("VIP"),
        "internal notes never reach the thread"
    );
    let (s, _) = other_key.post("/api/v1/orders/A-1001/notes", json!({"text": "x"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The list's filters and the accounting export.
    let (s, _) = key
        .post(
            "/api/v1/orders",
            json!({"order_id": "=1+2", "shopper_id": shopper_id, "amount": "5", "currency": "SEK"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["order_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, l) = admin.get("/api/v1/orders?stage=completed").await;
    assert_eq!(ids(&l), vec!["A-1001"]);
    let (_, l) = admin.get("/api/v1/orders?q=TV-55").await;
    assert_eq!(ids(&l), vec!["A-1001"], "by SKU");
    let (_, l) = admin.get("/api/v1/orders?q=a-10").await;
    assert_eq!(ids(&l), vec!["A-1001"], "by order id fragment");
    let (_, l) = admin.get("/api/v1/orders?limit=1").await;
    assert_eq!(l["items"].as_array().unwrap().len(), 1);
    let (_, l2) = admin
        .get(&format!("/api/v1/orders?limit=1&cursor={}", l["next_cursor"].as_str().unwrap()))
        .await;
    assert_eq!(l2["items"].as_array().unwrap().len(), 1);
    assert_ne!(ids(&l), ids(&l2));
    assert_eq!(other_key.get("/api/v1/orders").await.1["items"].as_array().unwrap().len(), 0);
    let res = key.request(Method::GET, "/api/v1/orders/export.csv").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let count: usize = res.headers()["x-row-count"].to_str().unwrap().parse().unwrap();
    let text = res.text().await.unwrap();
    let (_, rows) = csv_as_documented(&text, &documented_columns("docs/commerce.md", "`orders/export.csv` columns:"), &[]);
    assert_eq!((count, rows.len()), (2, 2));
    assert!(rows.iter().any(|r| &r[0] == "'=1+2"), "formula neutralised: {text}");
    assert!(rows
        .iter()
        .any(|r| &r[0] == "A-1001" && &r[3] == "completed" && &r[4] == "13086.00" && &r[10] == cart_id.as_str()));

    // Cart analytics: the one cart sent (the refused ones never count) and paid, its revenue,
    // per store and per expert; another merchant sees none of it.
    let (s, a) = admin.get("/api/v1/analytics/carts").await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let totals = a["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 1, "{a}");
    assert_eq!(
        (&totals[0]["currency"], &totals[0]["carts_sent"], &totals[0]["carts_paid"]),
        (&json!("SEK"), &json!(1), &json!(1))
    );
    assert_eq!(
        (&totals[0]["conversion"], &totals[0]["revenue"]),
        (&json!("1.0000"), &json!("13086.00"))
    );
    assert_eq!(a["by_store"].as_array().unwrap().len(), 1);
    assert!(a["by_store"][0]["store_id"].is_string());
    assert_eq!(a["by_expert"][0]["carts_paid"], 1);
    assert!(a["by_expert"][0]["expert_id"].is_string());
    let (s, _) = admin.get("/api/v1/analytics/carts?from=10&to=5").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "from after to");
    // Found by the API fuzzer: the smallest i64 as `to` overflowed the default range (a panic).
    for q in ["to=-9223372036854775808", "from=-9223372036854775808", "to=0"] {
        let (s, p) = admin.get(&format!("/api/v1/analytics/carts?{q}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {p}");
    }
    // The rollups count the cart too: Analytics and metrics.csv (by expert), money as decimal
    // strings in the currency's minor units.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let totals = loop {
        let (_, dash) = admin.get("/api/v1/analytics").await;
        if dash["totals"]["carts_paid"] == 1 {
            break dash["totals"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rollups never counted the paid cart: {dash}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(totals["carts_sent"], 1);
    assert_eq!(totals["cart_conversion"], 1.0);
    assert_eq!(totals["cart_revenue"], json!({"SEK": "13086.00"}));
    let res = admin
        .request(Method::GET, "/api/v1/exports/metrics.csv?by=expert")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let h = r.headers().unwrap().clone();
    let at = |name: &str| h.iter().position(|c| c == name).unwrap_or_else(|| panic!("no {name} in {h:?}"));
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    let cart_cols: Vec<&str> = h.iter().filter(|c| c.starts_with("cart")).collect();
    assert_eq!(
        cart_cols,
        ["carts_sent", "carts_paid", "cart_conversion", "cart_revenue_SEK"],
        "{h:?}"
    );
    assert!(at("cart_revenue_SEK") > at("revenue_SEK"), "cart revenue after revenue");
    let row = rows.iter().find(|r| &r[at("carts_paid")] == "1").expect(&text);
    assert_eq!(
        (&row[at("carts_sent")], &row[at("cart_conversion")], &row[at("cart_revenue_SEK")]),
        ("1", "1", "13086.00")
    );
    assert!(!row[at("expert_id")].is_empty(), "per expert");
    let (s, theirs) = other_key.get("/api/v1/analytics/carts").await;
    if s == StatusCode::OK {
        assert_eq!(
            theirs["totals"].as_array().unwrap().len(),
            0,
            "another merchant's figures: {theirs}"
        );
    } else {
        assert_eq!(s, StatusCode::FORBIDDEN, "{theirs}");
    }
    app.stop().await;
}

async fn quotes_revisions_and_permalinks(b: Backend) {
    let app = spawn(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let key = api_key(&admin).await;
    let (s, _) = key
        .post(
            "/api/v1/catalogue/products/batch",
            json!({"products": [product("sku_123", "Lamp", "499", "25"), product("gid://shop/1", "Chair", "1299", "25")]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, bad) = admin
        .call(
            Method::PUT,
            "/api/v1/settings/checkout",
            Some(json!({"mode": "permalink", "permalink_endpoint": "https://shop.example/buy/"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (s, _) = admin
        .call(
            Method::PUT,
            "/api/v1/settings/checkout",
            Some(json!({"mode": "permalink", "permalink_endpoint": "https://shop.example/buy"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (mut expert_ws_, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, _, shopper_token) = shopper_ws(&app, &m, None).await;
    let conv = start_chat(&mut shopper, &store, &dep, "Quote please").await;
    claim(&mut expert_ws_, &conv).await;
    let expert = expert_token(&app, "expert1@demo.example").await;
    let url = format!("/api/v1/app/conversations/{conv}/carts");

    // A permalink carries neither overrides nor free-text lines.
    let (s, p) = expert
        .post(
            &url,
            json!({"lines": [{"sku": "sku_123", "quantity": 1, "unit_price": "1"}, {"text": "Service", "quantity": 1, "unit_price": "5"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["lines[0].unit_price", "lines[1].text"], "{p}");

    // A quote, accepted by the shopper.
    let until = (chrono::Utc::now() + chrono::Duration::days(7)).format("%Y-%m-%d").to_string();
    let (s, quote) = expert
        .post(
            &url,
            json!({"lines": [{"sku": "sku_123", "quantity": 2}], "quote_valid_until": until}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{quote}");
    assert_eq!(quote["status"], "quote");
    let (s, _) = expert
        .post(
            &url,
            json!({"lines": [{"sku": "sku_123", "quantity": 1}], "quote_valid_until": "2001-01-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a past date");

    // A revision replaces it; the old card says so.
    let (s, rev) = expert
        .post(&url, json!({"lines": [{"sku": "sku_123", "quantity": 2}, {"sku": "gid://shop/1", "quantity": 1}], "quote_valid_until": until, "replaces": quote["id"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rev}");
    let card = until_message(&mut shopper, "revised card", |m| {
        m.kind == "cart" && m.data.as_ref().unwrap()["id"] == rev["id"]
    })
    .await;
    assert_eq!(card.data.unwrap()["replaces"], quote["id"]);
    let (_, old) = expert.get(&format!("/api/v1/app/carts/{}", quote["id"].as_str().unwrap())).await;
    assert_eq!(old["status"], "replaced");
    assert_eq!(old["replaced_by"], rev["id"]);
    let (s, _) = expert
        .post(&url, json!({"lines": [{"sku": "sku_123", "quantity": 1}], "replaces": quote["id"]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a replaced cart cannot be revised again");

    let rid = rev["id"].as_str().unwrap();
    let widget = app.client().with_bearer(&shopper_token);
    let (s, acc) = widget
        .post(&format!("/api/v1/widget/carts/{rid}/accept?merchant={m}"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{acc}");
    assert_eq!(acc["status"], "awaiting_payment");
    let line = until_message(&mut expert_ws_, "accepted", |m| m.kind == "system" && m.body == "cart_status").await;
    assert_eq!(line.data.unwrap()["status"], "awaiting_payment");
    let (s, _) = widget
        .post(&format!("/api/v1/widget/carts/{rid}/accept?merchant={m}"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "accepted once");

    // "Pay" goes to the permalink: item tokens, attribution with the signed reference.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let go = plain.post(acc["pay_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(go.status(), StatusCode::SEE_OTHER);
    let loc = go.headers()["location"].to_str().unwrap().to_owned();
    let (path, query) = loc.split_once('?').unwrap();
    assert_eq!(path, "https://shop.example/buy/sku_123:2,~Z2lkOi8vc2hvcC8x:1");
    assert!(query.contains("attribution/utm_source=floorwalker"), "{query}");
    let cref = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("attribution/floorwalker_cart="))
        .unwrap();
    let (s, full) = key.get(&format!("/api/v1/carts/{cref}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(full["id"], rev["id"]);

    // Cancelled by the expert: the link is gone and the thread says so.
    let (s, c) = expert.post(&format!("/api/v1/app/carts/{rid}/cancel"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let line = until_message(&mut shopper, "cancelled", |m| {
        m.kind == "system" && m.body == "cart_status" && m.data.as_ref().unwrap()["status"] == "cancelled"
    })
    .await;
    assert_eq!(line.data.unwrap()["cart_id"], rid);
    assert_eq!(
        plain.get(acc["pay_url"].as_str().unwrap()).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let _ = tokio::time::timeout(Duration::from_millis(10), async {}).await;
    app.stop().await;
}

/// Rasterise the SVG the server drew (its dark modules are `<path>` rectangles) and decode it.
fn decode_qr_svg(svg: &str) -> String {
    let (w, h) = svg_size(svg);
    let mut img = image::GrayImage::from_pixel(w, h, image::Luma([255]));
    for (x, y, rw, rh) in svg_rects(svg) {
        for yy in y..(y + rh).min(h) {
            for xx in x..(x + rw).min(w) {
                img.put_pixel(xx, yy, image::Luma([0]));
            }
        }
    }
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    grids[0].decode().expect("decodes").1
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let i = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(tag[i..].split('"').next()?.to_owned())
}

fn svg_size(svg: &str) -> (u32, u32) {
    let tag = &svg[svg.find("<svg").unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    (
        attr(tag, "width").unwrap().parse().unwrap(),
        attr(tag, "height").unwrap().parse().unwrap(),
    )
}

/// The rectangles of the dark path: `M{x} {y}h{w}v{h}H{x}V{y}` (or `h…v…h-…z`) segments.
fn svg_rects(svg: &str) -> Vec<(u32, u32, u32, u32)> {
    let d = svg
        .split("<path")
        .skip(1)
        .filter_map(|p| attr(&p[..p.find('>').unwrap()], "d"))
        .collect::<Vec<_>>()
        .join("");
    let mut out = Vec::new();
    for seg in d.split('M').skip(1) {
        let mut nums = Vec::new();
        let mut cmds = Vec::new();
        let mut cur = String::new();
        for c in seg.chars() {
            if c.is_ascii_digit() || c == '.' || (c == '-' && cur.is_empty()) {
                cur.push(c);
            } else {
                if !cur.is_empty() {
                    nums.push(cur.parse::<f64>().unwrap());
                    cur.clear();
                }
                if c.is_ascii_alphabetic() {
                    cmds.push(c);
                }
            }
        }
        if !cur.is_empty() {
            nums.push(cur.parse::<f64>().unwrap());
        }
        // M x y, then h w, v h …
        let (x, y) = (nums[0], nums[1]);
        let wv = cmds.iter().position(|c| *c == 'h').map(|i| nums[2 + i]).unwrap();
        let hv = cmds.iter().position(|c| *c == 'v').map(|i| nums[2 + i]).unwrap();
        out.push((x as u32, y as u32, wv as u32, hv as u32));
    }
    out
}

/// The demo's sample shop plays the merchant: its `/.well-known/ucp`, its `/shop/buy/…` cart
/// page, and its test checkout that reports the order over the API.
async fn the_sample_shop_plays_the_merchant(b: Backend) {
    let app = spawn(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, products) = admin.get("/api/v1/catalogue/products?limit=200").await;
    assert_eq!(products["items"].as_array().unwrap().len(), 200, "a few hundred demo products");
    let (_, checkout) = admin.get("/api/v1/settings/checkout").await;
    assert_eq!(checkout["mode"], "hosted");

    let (mut expert_ws_, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    let conv = start_chat(&mut shopper, &store, &dep, "A TV and installation?").await;
    claim(&mut expert_ws_, &conv).await;
    let expert = expert_token(&app, "expert1@demo.example").await;
    let (_, hits) = expert.get("/api/v1/app/catalogue/search?q=TV-1001-4").await;
    assert_eq!(hits["items"][0]["sku"], "TV-1001-4", "by article number");
    let url = format!("/api/v1/app/conversations/{conv}/carts");

    // Hosted: an override and a free-text line, paid on the shop's test checkout.
    let (s, cart) = expert
        .post(&url, json!({"lines": [{"sku": "TV-1001-4", "quantity": 1, "unit_price": "12000.00"}, {"text": "Installation", "quantity": 1, "unit_price": "990"}]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cart}");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let go = browser.post(cart["pay_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(go.status(), StatusCode::SEE_OTHER);
    let checkout_url = go.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        checkout_url.starts_with(&format!("{}/shop/checkout?floorwalker_cart=cref_", app.url)),
        "{checkout_url}"
    );
    let page = browser.get(&checkout_url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Installation") && page.contains("12990.00 SEK"), "{page}");
    let cref = checkout_url.split("floorwalker_cart=").nth(1).unwrap();
    let paid = browser
        .post(format!("{}/shop/checkout", app.url))
        .form(&[("cart_ref", cref)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(paid.contains("is paid"), "{paid}");
    let line = until_message(&mut shopper, "paid", |m| m.body == "cart_status").await;
    assert_eq!(line.data.unwrap()["status"], "paid");
    let (_, orders) = admin.get("/api/v1/orders").await;
    assert_eq!(orders["items"][0]["amount"], "12990.00");
    assert_eq!(orders["items"][0]["cart_id"], cart["id"]);

    // Permalink: discovered from the shop's address; /buy fills the shop's cart page.
    let (s, set) = admin.post("/api/v1/settings/checkout/discover", json!({"shop_url": app.url})).await;
    assert_eq!(s, StatusCode::OK, "{set}");
    assert_eq!(set["permalink_endpoint"], format!("{}/shop/buy", app.url));
    let (s, set) = admin
        .post("/api/v1/settings/checkout/discover", json!({"shop_url": "http://127.0.0.1:9"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{set}");
    let (s, cart) = expert.post(&url, json!({"lines": [{"sku": "KIT-1001-2", "quantity": 2}]})).await;
    assert_eq!(s, StatusCode::CREATED, "{cart}");
    assert_eq!(cart["checkout_mode"], "permalink");
    let go = browser.post(cart["pay_url"].as_str().unwrap()).send().await.unwrap();
    let buy = go.headers()["location"].to_str().unwrap().to_owned();
    assert!(buy.starts_with(&format!("{}/shop/buy/KIT-1001-2:2?", app.url)), "{buy}");
    let page = browser.get(&buy).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("2 × Café Crème espresso machine white"), "{page}");
    let cref = buy
        .split("attribution/floorwalker_cart=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let paid = browser
        .post(format!("{}/shop/checkout", app.url))
        .form(&[("cart_ref", cref)])
        .send()
        .await
        .unwrap();
    assert!(paid.text().await.unwrap().contains("is paid"));
    let line = until_message(&mut expert_ws_, "paid", |m| {
        m.body == "cart_status" && m.data.as_ref().unwrap()["cart_id"] == cart["id"]
    })
    .await;
    assert_eq!(line.data.unwrap()["status"], "paid");
    app.stop().await;
}

async fn mail_to(sink: &sinks::SmtpSink, to: &str) -> sinks::Mail {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(m) = sink.mails().into_iter().find(|m| m.to == [to]) {
            return m;
        }
        assert!(std::time::Instant::now() < deadline, "no mail to {to}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pay link by e-mail and SMS through the outbox, and the one unpaid-cart reminder.
async fn links_by_mail_and_sms_and_one_reminder(b: Backend) {
    let sink = sinks::SmtpSink::start().await;
    let smtp = sink.url();
    let app = TestApp::spawn_with(b, move |a| {
        a.demo = true;
        a.demo_password = Some(floorwalker::config::Secret::new(DEMO_PASSWORD));
        a.outbound.smtp_url = Some(smtp.parse().unwrap());
        a.outbound.allow_private_webhooks = true;
        a.outbound.outbound_speedup = 1000;
    })
    .await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (s, set) = admin
        .call(
            Method::PUT,
            "/api/v1/settings/checkout",
            Some(json!({"mode": "hosted", "checkout_url": "https://shop.example/checkout", "reminder_hours": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{set}");
    let (mut expert_ws_, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, shopper_id, _) = shopper_ws(&app, &m, None).await;
    let merchant = floorwalker::ids::MerchantId::parse(&m).unwrap();
    app.db
        .identify_shopper(
            &merchant,
            &floorwalker::ids::ShopperId::parse(&shopper_id).unwrap(),
            Some("Kim"),
            Some("kim@example.com"),
        )
        .await
        .unwrap();
    let conv = start_chat(&mut shopper, &store, &dep, "Send me the link").await;
    claim(&mut expert_ws_, &conv).await;
    let expert = expert_token(&app, "expert1@demo.example").await;
    let (s, cart) = expert
        .post(
            &format!("/api/v1/app/conversations/{conv}/carts"),
            json!({"lines": [{"sku": "SHO-1001-3", "quantity": 1}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cart}");
    let id = cart["id"].as_str().unwrap();
    let pay_url = cart["pay_url"].as_str().unwrap();
    let send = format!("/api/v1/app/carts/{id}/send");
    let (s, p) = expert.post(&send, json!({"channel": "email", "to": "not an address"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (s, _) = expert.post(&send, json!({"channel": "sms", "to": "0701234"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = expert.post(&send, json!({"channel": "fax", "to": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, sent) = expert.post(&send, json!({"channel": "email", "to": "Alex@Example.com"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sent}");
    assert_eq!(sent["status"], "queued");
    let (s, row) = admin.get(&format!("/api/v1/outbox/{}", sent["outbox_id"].as_str().unwrap())).await;
    assert_eq!(s, StatusCode::OK, "{row}");
    assert_eq!(row["recipient"], "alex@example.com");
    assert!(row["body_text"].as_str().unwrap().contains(pay_url), "{row}");
    let (s, again) = expert.post(&send, json!({"channel": "email", "to": "alex@example.com"})).await;
    assert_eq!((s, again["status"].as_str()), (StatusCode::ACCEPTED, Some("duplicate")));
    let (s, sms) = expert.post(&send, json!({"channel": "sms", "to": "+46 70 123 45 67"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sms}");
    let (_, row) = admin.get(&format!("/api/v1/outbox/{}", sms["outbox_id"].as_str().unwrap())).await;
    assert_eq!(row["recipient"], "+46701234567");
    assert!(row["body_text"].as_str().unwrap().contains(pay_url));
    mail_to(&sink, "alex@example.com").await;

    // One reminder (an hour, sped up): in the thread for both sides, and by e-mail.
    let line = until_message(&mut shopper, "reminder", |m| m.body == "cart_reminder").await;
    assert_eq!(line.data.unwrap()["cart_id"], id);
    until_message(&mut expert_ws_, "reminder", |m| m.body == "cart_reminder").await;
    let reminder = mail_to(&sink, "kim@example.com").await;
    assert!(
        reminder.header("Subject").unwrap_or_default().contains("ready to pay"),
        "the identified shopper gets the reminder"
    );
    let more = shopper.drain(1500).await;
    assert!(
        !more
            .iter()
            .any(|o| matches!(o, Out::Message { message } if message.body == "cart_reminder")),
        "only one reminder"
    );
    app.stop().await;
}

/// A quote past its date lapses and a pay link past its time expires: the lapse job tells both
/// sides, the shopper can no longer accept, the pay page says the link expired and starts no
/// checkout, the cart reference the checkout got is refused. Time moves by the commerce clock
/// (docs/commerce.md "Testing lapses"), not by sleeping.
async fn quotes_lapse_and_pay_links_expire(b: Backend) {
    let app = spawn(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let key = api_key(&admin).await;
    let (s, _) = key
        .post(
            "/api/v1/catalogue/products/batch",
            json!({"products": [product("LAMP-1", "Lamp", "499.00", "25")]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, set) = admin
        .call(
            Method::PUT,
            "/api/v1/settings/checkout",
            Some(json!({"mode": "hosted", "checkout_url": "https://shop.example/checkout", "link_hours": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{set}");
    let (mut expert_ws_, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, _, shopper_token) = shopper_ws(&app, &m, None).await;
    let conv = start_chat(&mut shopper, &store, &dep, "A quote and a cart, please").await;
    claim(&mut expert_ws_, &conv).await;
    let expert = expert_token(&app, "expert1@demo.example").await;
    let widget = app.client().with_bearer(&shopper_token);
    let url = format!("/api/v1/app/conversations/{conv}/carts");
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A quote valid until tomorrow, and a cart whose link lasts two hours.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let (s, quote) = expert
        .post(
            &url,
            json!({"lines": [{"sku": "LAMP-1", "quantity": 2}], "quote_valid_until": tomorrow}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{quote}");
    let quote_id = quote["id"].as_str().unwrap().to_owned();
    let quote_url = quote["pay_url"].as_str().unwrap().to_owned();
    let (s, cart) = expert.post(&url, json!({"lines": [{"sku": "LAMP-1", "quantity": 1}]})).await;
    assert_eq!(s, StatusCode::CREATED, "{cart}");
    let cart_id = cart["id"].as_str().unwrap().to_owned();
    let cart_url = cart["pay_url"].as_str().unwrap().to_owned();
    let hours = (cart["expires_at"].as_i64().unwrap() - cart["created_at"].as_i64().unwrap() + 1_800_000) / 3_600_000;
    assert_eq!(hours, 2, "the link lasts the merchant's link_hours");
    // Before: the pages answer, and "Pay" hands a signed reference to the checkout.
    assert_eq!(plain.get(&quote_url).send().await.unwrap().status(), StatusCode::OK);
    let go = plain.post(&cart_url).send().await.unwrap();
    assert_eq!(go.status(), StatusCode::SEE_OTHER);
    let cref = go.headers()["location"]
        .to_str()
        .unwrap()
        .split("floorwalker_cart=")
        .nth(1)
        .unwrap()
        .to_owned();
    assert_eq!(key.get(&format!("/api/v1/carts/{cref}")).await.0, StatusCode::OK);

    // Three hours on: the link lapses (the quote still stands, until the end of tomorrow).
    app.commerce_clock.advance(Duration::from_secs(3 * 3600));
    for ws in [&mut shopper, &mut expert_ws_] {
        let line = until_message(ws, "the link lapsed", |m| {
            m.body == "cart_status" && m.data.as_ref().unwrap()["cart_id"] == cart_id.as_str()
        })
        .await;
        assert_eq!(line.data.unwrap()["status"], "expired");
    }
    let page = plain.get(&cart_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let html = page.text().await.unwrap();
    assert!(html.contains("This payment link has expired"), "a clear page: {html}");
    assert!(!html.contains("<form"), "nothing to continue with: {html}");
    let go = plain.post(&cart_url).send().await.unwrap();
    assert_eq!(go.status(), StatusCode::NOT_FOUND, "no checkout starts");
    assert!(go.headers().get("location").is_none());
    assert_eq!(
        key.get(&format!("/api/v1/carts/{cref}")).await.0,
        StatusCode::NOT_FOUND,
        "the reference expired with it"
    );
    let (s, p) = key
        .post(
            "/api/v1/orders",
            json!({"order_id": "LATE-1", "cart_ref": cref, "amount": "499.00", "currency": "SEK", "status": "paid"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
    let (s, _) = expert
        .post(
            &format!("/api/v1/app/carts/{cart_id}/send"),
            json!({"channel": "email", "to": "kim@example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "no link to send");
    let (_, c) = expert.get(&format!("/api/v1/app/carts/{cart_id}")).await;
    assert_eq!((c["status"].as_str(), &c["pay_url"]), (Some("expired"), &Value::Null));
    let (_, q) = expert.get(&format!("/api/v1/app/carts/{quote_id}")).await;
    assert_eq!(q["status"], "quote", "the quote's date has not passed");

    // Three days on: the quote lapses; both sides are told and the shopper can no longer accept.
    app.commerce_clock.advance(Duration::from_secs(3 * 86_400));
    for ws in [&mut shopper, &mut expert_ws_] {
        let line = until_message(ws, "the quote lapsed", |m| {
            m.body == "cart_status" && m.data.as_ref().unwrap()["cart_id"] == quote_id.as_str()
        })
        .await;
        assert_eq!(line.data.unwrap()["status"], "expired");
    }
    let (s, p) = widget
        .post(&format!("/api/v1/widget/carts/{quote_id}/accept?merchant={m}"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    let (_, w) = widget.get(&format!("/api/v1/widget/carts/{quote_id}?merchant={m}")).await;
    assert_eq!((w["status"].as_str(), &w["pay_url"]), (Some("expired"), &Value::Null));
    let page = plain.get(&quote_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.text().await.unwrap().contains("This payment link has expired"));
    let go = plain.post(&quote_url).send().await.unwrap();
    assert_eq!(go.status(), StatusCode::NOT_FOUND, "accepting by the page does not work either");
    assert!(go.headers().get("location").is_none());
    // Each lapse was told once.
    let more = shopper.drain(800).await;
    assert!(
        !more
            .iter()
            .any(|o| matches!(o, Out::Message { message } if message.body == "cart_status")),
        "one line per lapse: {more:?}"
    );
    app.stop().await;
}

/// The order flow is the table in docs/commerce.md: forward, new → shipped allowed (in_progress
/// is optional), never past shipped, cancelled/refunded from any open stage, closed stays
/// closed; a refused step changes nothing. Notes take `body` (or `text`).
async fn order_stages_follow_the_documented_table(b: Backend) {
    let app = spawn(b).await;
    let (m, _, _) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let key = api_key(&admin).await;
    let (_, shopper_id, _) = shopper_ws(&app, &m, None).await;
    for id in ["S-1", "S-2", "S-3"] {
        let (s, o) = key
            .post(
                "/api/v1/orders",
                json!({"order_id": id, "shopper_id": shopper_id, "amount": "10", "currency": "SEK", "status": "paid"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
    }
    let step = |id: &'static str, body: Value| {
        let key = key.clone();
        async move { key.post(&format!("/api/v1/orders/{id}/stage"), body).await }
    };
    let ship = json!({"stage": "shipped", "carrier": "DHL", "tracking_number": "JD1"});
    // S-1: new → shipped directly, then completed; nothing after that.
    let (s, d) = step("S-1", ship.clone()).await;
    assert_eq!(s, StatusCode::OK, "new → shipped: {d}");
    assert_eq!(
        (d["order"]["stage"].as_str(), d["order"]["carrier"].as_str()),
        (Some("shipped"), Some("DHL"))
    );
    for refused in ["in_progress", "shipped"] {
        let mut body = ship.clone();
        body["stage"] = json!(refused);
        let (s, p) = step("S-1", body).await;
        assert_eq!(s, StatusCode::CONFLICT, "shipped → {refused}: {p}");
    }
    assert_eq!(step("S-1", json!({"stage": "completed"})).await.0, StatusCode::OK);
    for refused in ["refunded", "cancelled", "completed"] {
        assert_eq!(
            step("S-1", json!({"stage": refused})).await.0,
            StatusCode::CONFLICT,
            "completed → {refused}"
        );
    }
    // S-2: completed needs shipped first; the same stage twice is refused; cancelled is final.
    assert_eq!(
        step("S-2", json!({"stage": "completed"})).await.0,
        StatusCode::CONFLICT,
        "new → completed"
    );
    let (s, p) = step("S-2", json!({"stage": "new"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(step("S-2", json!({"stage": "in_progress"})).await.0, StatusCode::OK);
    assert_eq!(
        step("S-2", json!({"stage": "in_progress"})).await.0,
        StatusCode::CONFLICT,
        "already there"
    );
    let (s, d) = step("S-2", json!({"stage": "cancelled"})).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(
        (d["order"]["stage"].as_str(), d["order"]["status"].as_str()),
        (Some("cancelled"), Some("cancelled"))
    );
    assert_eq!(
        step("S-2", json!({"stage": "refunded"})).await.0,
        StatusCode::CONFLICT,
        "cancelled is final"
    );
    assert_eq!(step("S-2", ship.clone()).await.0, StatusCode::CONFLICT);
    // S-3: refunded straight from new sets the payment status too.
    let (s, d) = step("S-3", json!({"stage": "refunded"})).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["order"]["status"], "refunded");
    // Refused steps left no trace; who did each step is recorded.
    let (_, d) = admin.get("/api/v1/orders/S-2/detail").await;
    let stages: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["in_progress", "cancelled"]);
    assert!(d["history"].as_array().unwrap().iter().all(|h| h["actor_kind"] == "api_key"));
    // Notes: `body` as in the note itself, `text` still accepted; empty refused.
    let (s, n) = admin.post("/api/v1/orders/S-1/notes", json!({"body": "Left at the door"})).await;
    assert_eq!(s, StatusCode::CREATED, "{n}");
    assert_eq!(
        (n["body"].as_str(), n["author_kind"].as_str()),
        (Some("Left at the door"), Some("account"))
    );
    let (s, n) = key.post("/api/v1/orders/S-1/notes", json!({"text": "Signed by K."})).await;
    assert_eq!(s, StatusCode::CREATED, "{n}");
    assert_eq!(n["author_kind"], "api_key");
    let (s, p) = admin.post("/api/v1/orders/S-1/notes", json!({"body": "  "})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["errors"][0]["field"], "body");
    let (_, d) = admin.get("/api/v1/orders/S-1/detail").await;
    let notes: Vec<&str> = d["notes"].as_array().unwrap().iter().map(|n| n["body"].as_str().unwrap()).collect();
    assert_eq!(notes, ["Left at the door", "Signed by K."]);

    // The shopper's journey shows each step of their orders (never the notes).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let steps = loop {
        let (s, j) = admin.get(&format!("/api/v1/shoppers/{shopper_id}/journey")).await;
        assert_eq!(s, StatusCode::OK, "{j}");
        let steps: Vec<Value> = j["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "order_stage")
            .cloned()
            .collect();
        if steps.len() >= 5 {
            assert!(!j.to_string().contains("Left at the door"), "internal notes stay internal");
            break steps;
        }
        assert!(std::time::Instant::now() < deadline, "journey steps: {j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let of = |id: &str| -> Vec<String> {
        let mut v: Vec<&Value> = steps.iter().filter(|e| e["detail"]["order_id"] == id).collect();
        v.sort_by_key(|e| e["at"].as_i64().unwrap());
        v.iter().map(|e| e["detail"]["stage"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(of("S-1"), ["shipped", "completed"]);
    assert_eq!(of("S-2"), ["in_progress", "cancelled"]);
    assert_eq!(of("S-3"), ["refunded"]);
    let shipped = steps.iter().find(|e| e["detail"]["stage"] == "shipped").unwrap();
    assert_eq!(
        (shipped["detail"]["carrier"].as_str(), shipped["detail"]["tracking_number"].as_str()),
        (Some("DHL"), Some("JD1"))
    );
    // Another merchant cannot read this shopper's journey.
    let op = app.operator().await;
    let (_, other_admin) = app.merchant(&op, "Elsewhere").await;
    let (s, _) = other_admin.get(&format!("/api/v1/shoppers/{shopper_id}/journey")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
}

on_both_backends!(
    links_by_mail_and_sms_and_one_reminder,
    the_sample_shop_plays_the_merchant,
    catalogue_by_api_key_csv_and_dashboard,
    search_finds_names_fragments_article_numbers_and_accents,
    a_cart_goes_from_the_chat_to_paid,
    quotes_revisions_and_permalinks,
    quotes_lapse_and_pay_links_expire,
    order_stages_follow_the_documented_table,
);
