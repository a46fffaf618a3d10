//! The demo merchant: seeded into an empty database by `floorwalker serve --demo`.
//!
//! Logins: `operator@demo.example`, `admin@demo.example`, `expert1@demo.example` …
//! `expert6@demo.example` (approved) and `pending@demo.example` (waiting for approval). Their
//! password is `FLOORWALKER_DEMO_PASSWORD`, or generated and printed once.

use crate::auth;
use crate::config::Secret;
use crate::domain::hours::{DateException, Interval, WeeklyHours};
use crate::domain::settings::DisplaySettings;
use crate::domain::team::{ExpertAction, ExpertStatus, Module, Role};
use crate::storage::{Address, Db, NewAccount, NewExpert, SavedReplyFields, StoreFields};

pub const DEMO_MERCHANT_NAME: &str = "Nordhem Home & Electronics";

fn every_day(open: &str, close: &str) -> WeeklyHours {
    let d = || {
        vec![Interval {
            open: open.into(),
            close: close.into(),
        }]
    };
    WeeklyHours {
        monday: d(),
        tuesday: d(),
        wednesday: d(),
        thursday: d(),
        friday: d(),
        saturday: d(),
        sunday: d(),
    }
}

/// Seed the demo merchant when the database has no merchant yet. Returns whether it seeded.
pub async fn seed_if_empty(db: &Db, password: Option<&Secret>) -> anyhow::Result<bool> {
    if db.count_merchants().await? > 0 {
        return Ok(false);
    }
    let (password, generated) = match password {
        Some(p) => (p.expose().to_owned(), false),
        None => (
            auth::new_token("")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(16)
                .collect::<String>(),
            true,
        ),
    };
    let hash = auth::hash_password(password.clone()).await?;

    db.create_account(&NewAccount {
        merchant_id: None,
        email: "operator@demo.example",
        name: "Olivia Operator",
        password_hash: &hash,
        role: Role::Operator,
        modules: &[],
    })
    .await?;
    let merchant = db.create_merchant(DEMO_MERCHANT_NAME).await?;
    let m = &merchant.id;
    db.create_account(&NewAccount {
        merchant_id: Some(m),
        email: "admin@demo.example",
        name: "Adam Admin",
        password_hash: &hash,
        role: Role::Merchant,
        modules: &Module::ALL,
    })
    .await?;

    // Two stores. The Stockholm flagship keeps long hours every day (and answers chats late);
    // Berlin keeps ordinary shop hours with a holiday exception.
    let stockholm = db
        .create_store(
            m,
            &StoreFields {
                name: "Stockholm Flagship".into(),
                address: Address {
                    street: "Drottninggatan 50".into(),
                    postal_code: "111 21".into(),
                    city: "Stockholm".into(),
                    country: "SE".into(),
                },
                timezone: "Europe/Stockholm".into(),
                hours: every_day("00:00", "24:00"),
                exceptions: vec![],
            },
        )
        .await?;
    let mut berlin_hours = WeeklyHours::standard();
    berlin_hours.saturday = vec![Interval {
        open: "10:00".into(),
        close: "18:00".into(),
    }];
    let berlin = db
        .create_store(
            m,
            &StoreFields {
                name: "Berlin Mitte".into(),
                address: Address {
                    street: "Friedrichstraße 120".into(),
                    postal_code: "10117".into(),
                    city: "Berlin".into(),
                    country: "DE".into(),
                },
                timezone: "Europe/Berlin".into(),
                hours: berlin_hours,
                exceptions: vec![DateException {
                    date: "2026-12-25".into(),
                    hours: vec![],
                    note: Some("Christmas Day".into()),
                }],
            },
        )
        .await?;
    let mut sthlm_deps = Vec::new();
    for name in ["TV & Audio", "Kitchen", "Furniture"] {
        sthlm_deps.push(db.create_department(m, &stockholm.id, name).await?);
    }
    let mut berlin_deps = Vec::new();
    for name in ["TV & Audio", "Outdoor", "Shoes"] {
        berlin_deps.push(db.create_department(m, &berlin.id, name).await?);
    }

    let names = [
        "Sara Lind",
        "Johan Ek",
        "Amira Haddad",
        "Lukas Weber",
        "Eleni Papadopoulou",
        "Tomáš Novák",
    ];
    for (i, name) in names.iter().enumerate() {
        let n = i + 1;
        let email = format!("expert{n}@demo.example");
        let e = db
            .create_expert(
                m,
                &NewExpert {
                    email: &email,
                    name,
                    password_hash: &hash,
                    status: ExpertStatus::Pending,
                },
            )
            .await?;
        db.expert_action(m, &e.id, ExpertAction::Approve).await?;
        // Experts 1–3 work in Stockholm, 4–6 in Berlin; expert 3 covers both stores' TV & Audio.
        let (mut stores, mut deps) = if n <= 3 {
            (
                vec![stockholm.id.clone()],
                sthlm_deps.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
            )
        } else {
            (
                vec![berlin.id.clone()],
                berlin_deps.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
            )
        };
        if n == 3 {
            stores.push(berlin.id.clone());
            deps.push(berlin_deps[0].id.clone());
        }
        db.set_assignments(m, &e.id, &stores, &deps).await?;
    }
    db.create_expert(
        m,
        &NewExpert {
            email: "pending@demo.example",
            name: "Pat Pending",
            password_hash: &hash,
            status: ExpertStatus::Pending,
        },
    )
    .await?;

    let replies = [
        ("hello", "Greeting", "Hi! I'm in the store right now — how can I help you today?"),
        (
            "hours",
            "Opening hours",
            "We're open Monday to Friday 9–18 and Saturday 10–16. Chat with us any time we're online!",
        ),
        (
            "delivery",
            "Delivery",
            "Delivery takes 1–3 working days and is free on orders over 500 kr.",
        ),
        (
            "returns",
            "Returns",
            "You can return anything within 30 days with the receipt, in store or by post.",
        ),
        ("stock", "Checking stock", "Let me check the shelf for you — one moment."),
        (
            "thanks",
            "Thanks",
            "Thanks for chatting with us! Is there anything else I can help with?",
        ),
    ];
    for (shortcut, title, body) in replies {
        db.create_saved_reply(
            m,
            &SavedReplyFields {
                shortcut: shortcut.into(),
                title: title.into(),
                body: body.into(),
            },
        )
        .await?;
    }

    let mut display = DisplaySettings {
        brand_name: DEMO_MERCHANT_NAME.into(),
        primary_color: "#0b5d4b".into(),
        ..Default::default()
    };
    display
        .greeting
        .insert("sv".into(), "Frågor? Chatta med en expert i vår butik.".into());
    display
        .greeting
        .insert("de".into(), "Fragen? Chatten Sie mit einer Expertin im Laden.".into());
    display
        .greeting
        .insert("fa".into(), "سؤالی دارید؟ با یک کارشناس فروشگاه گفتگو کنید.".into());
    db.set_display(m, &display).await?;
    db.set_origins(m, &["http://127.0.0.1:8080".into(), "http://localhost:8080".into()])
        .await?;
    crate::commerce::demo::seed(db, m).await?;

    println!();
    println!("  Demo merchant \"{DEMO_MERCHANT_NAME}\" created. Merchant ID: {}", merchant.id);
    println!("  Logins: operator@demo.example, admin@demo.example, expert1@demo.example … expert6@demo.example");
    if generated {
        println!("  Password for all of them (shown once): {password}");
    } else {
        println!("  Password: the value of FLOORWALKER_DEMO_PASSWORD");
    }
    println!();
    Ok(true)
}

/// The demo's Outbox: the invitation e-mails its Team page would send, made through the same
/// path as `POST /team/invitations` (once: the idempotency keys hold them to one a day, and an
/// Outbox that already has mail is left as it is).
pub async fn seed_outbox(db: &Db, out: &crate::outbound::Outbound) -> anyhow::Result<()> {
    let Some(merchant) = db
        .list_merchants(&crate::storage::PageRequest::first(10))
        .await?
        .items
        .into_iter()
        .find(|m| m.name == DEMO_MERCHANT_NAME)
    else {
        return Ok(());
    };
    let m = &merchant.id;
    if !db
        .list_outbox(Some(m), &Default::default(), &crate::storage::PageRequest::first(1))
        .await?
        .items
        .is_empty()
    {
        return Ok(());
    }
    let invited = ["noor.haddad@demo.example".to_owned(), "jonas.berg@demo.example".to_owned()];
    crate::outbound::uses::invite(db, out, m, &invited[..1], "en").await?;
    crate::outbound::uses::invite(db, out, m, &invited[1..], "sv").await?;
    // `./dev demo`: a few chats through the real paths, so the Outbox shows what they send.
    if std::env::var("FLOORWALKER_DEMO_TRAFFIC").is_ok_and(|v| v == "1") {
        crate::outbound::hooks::seed_demo_traffic(out, m).await?;
    }
    Ok(())
}
