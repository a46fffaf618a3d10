//! The storage interface, exercised directly: the same story on SQLite and PostgreSQL.

mod common;

use common::{Backend, TestDb};
use floorwalker::domain::hours::WeeklyHours;
use floorwalker::domain::team::{ExpertAction, ExpertStatus, Module, Role};
use floorwalker::ids::{ShopperId, StoreId};
use floorwalker::storage::{Address, NewAccount, NewExpert, PageRequest, SavedReplyFields, StorageError, StoreFields};

on_both_backends!(
    migrations_are_idempotent,
    another_merchants_objects_do_not_exist,
    uniqueness_is_a_conflict_not_a_crash,
    concurrent_lifecycle_actions_apply_once,
    sessions_expire_and_die_with_their_account,
    shopper_ids_are_issued_by_the_server,
);

fn store(name: &str) -> StoreFields {
    StoreFields {
        name: name.into(),
        address: Address::default(),
        timezone: "Europe/Stockholm".into(),
        hours: WeeklyHours::standard(),
        exceptions: vec![],
    }
}

async fn migrations_are_idempotent(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();
    assert_eq!(db.count_merchants().await.unwrap(), 0);
    db.pool.close().await;
    db.writer.close().await;
    t.drop_db().await;
}

async fn another_merchants_objects_do_not_exist(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    let a = db.create_merchant("A").await.unwrap();
    let bm = db.create_merchant("B").await.unwrap();
    let s = db.create_store(&a.id, &store("A store")).await.unwrap();
    let d = db.create_department(&a.id, &s.id, "Dep").await.unwrap();
    let r = db
        .create_saved_reply(
            &bm.id,
            &SavedReplyFields {
                shortcut: "b".into(),
                title: "t".into(),
                body: "b".into(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(db.get_store(&bm.id, &s.id).await, Err(StorageError::NotFound)));
    assert!(matches!(
        db.update_store(&bm.id, &s.id, &store("stolen")).await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(db.delete_store(&bm.id, &s.id).await, Err(StorageError::NotFound)));
    assert!(matches!(
        db.create_department(&bm.id, &s.id, "x").await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        db.rename_department(&bm.id, &d.id, "x").await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(db.get_saved_reply(&a.id, &r.id).await, Err(StorageError::NotFound)));
    assert!(matches!(db.delete_saved_reply(&a.id, &r.id).await, Err(StorageError::NotFound)));
    assert_eq!(db.list_stores(&bm.id, &PageRequest::first(50)).await.unwrap().items.len(), 0);
    assert_eq!(db.list_departments(&bm.id, None).await.unwrap().len(), 0);
    assert_eq!(db.get_store(&a.id, &s.id).await.unwrap().name, "A store", "untouched");
    assert!(matches!(
        db.get_store(&a.id, &StoreId::generate()).await,
        Err(StorageError::NotFound)
    ));
    db.pool.close().await;
    db.writer.close().await;
    t.drop_db().await;
}

async fn uniqueness_is_a_conflict_not_a_crash(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    let a = db.create_merchant("A").await.unwrap();
    let s = db.create_store(&a.id, &store("S")).await.unwrap();
    db.create_department(&a.id, &s.id, "Shoes").await.unwrap();
    assert!(matches!(
        db.create_department(&a.id, &s.id, "Shoes").await,
        Err(StorageError::Conflict(_))
    ));
    let acc = NewAccount {
        merchant_id: Some(&a.id),
        email: "x@a.example",
        name: "X",
        password_hash: "h",
        role: Role::Merchant,
        modules: &[Module::Stores],
    };
    db.create_account(&acc).await.unwrap();
    assert!(matches!(db.create_account(&acc).await, Err(StorageError::Conflict(_))));
    let e = NewExpert {
        email: "e@a.example",
        name: "E",
        password_hash: "h",
        status: ExpertStatus::Pending,
    };
    db.create_expert(&a.id, &e).await.unwrap();
    assert!(matches!(db.create_expert(&a.id, &e).await, Err(StorageError::Conflict(_))));
    db.pool.close().await;
    db.writer.close().await;
    t.drop_db().await;
}

async fn concurrent_lifecycle_actions_apply_once(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    let a = db.create_merchant("A").await.unwrap();
    let e = db
        .create_expert(
            &a.id,
            &NewExpert {
                email: "race@a.example",
                name: "R",
                password_hash: "h",
                status: ExpertStatus::Pending,
            },
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (db, m, id) = (db.clone(), a.id.clone(), e.id.clone());
        tasks.push(tokio::spawn(async move {
            db.expert_action(&m, &id, ExpertAction::Approve).await.is_ok()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one approval applies");
    assert_eq!(db.get_expert(&a.id, &e.id).await.unwrap().status, ExpertStatus::Approved);
    db.pool.close().await;
    db.writer.close().await;
    t.drop_db().await;
}

async fn sessions_expire_and_die_with_their_account(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    let a = db.create_merchant("A").await.unwrap();
    let acc = db
        .create_account(&NewAccount {
            merchant_id: Some(&a.id),
            email: "s@a.example",
            name: "S",
            password_hash: "h",
            role: Role::Merchant,
            modules: &[],
        })
        .await
        .unwrap();
    db.create_session(&acc.id, "live", "csrf", 60_000).await.unwrap();
    db.create_session(&acc.id, "expired", "csrf", -1).await.unwrap();
    assert!(db.session("live").await.unwrap().is_some());
    assert!(db.session("expired").await.unwrap().is_none());
    assert_eq!(db.delete_expired_sessions().await.unwrap(), 1);
    db.update_account(&acc.id, None, None, Some(false)).await.unwrap();
    assert!(db.session("live").await.unwrap().is_none(), "deactivation ends sessions");
    db.pool.close().await;
    db.writer.close().await;
    t.drop_db().await;
}

async fn shopper_ids_are_issued_by_the_server(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    let a = db.create_merchant("A").await.unwrap();
    let bm = db.create_merchant("B").await.unwrap();
    let s1 = db.create_shopper(&a.id).await.unwrap();
    let s2 = db.create_shopper(&a.id).await.unwrap();
    assert_ne!(s1.id, s2.id);
    assert!(ShopperId::parse(s1.id.as_str()).is_some());
    assert!(matches!(db.get_shopper(&bm.id, &s1.id).await, Err(StorageError::NotFound)));
    let who = db.identify_shopper(&a.id, &s1.id, Some("Ada"), None).await.unwrap();
    assert_eq!(who.name.as_deref(), Some("Ada"));
    assert!(matches!(
        db.identify_shopper(&bm.id, &s1.id, Some("x"), None).await,
        Err(StorageError::NotFound)
    ));
    db.pool.close().await;
    db.writer.close().await;
    t.drop_db().await;
}
