//! The storage interface, exercised directly: the same story on SQLite and PostgreSQL.

mod common;

use common::{Backend, TestDb};
use floorwalker::domain::hours::WeeklyHours;
use floorwalker::domain::team::{ExpertAction, ExpertStatus, Module, Role};
use floorwalker::ids::{DepartmentId, MerchantId, ShopperId, StoreId};
use floorwalker::storage::{
    Address, AppendOutcome, Claim, Db, Department, Expert, Merchant, NewAccount, NewConversation, NewExpert, NewMessage, PageRequest,
    SavedReplyFields, Sender, StorageError, Store, StoreFields,
};

on_both_backends!(
    migrations_are_idempotent,
    another_merchants_objects_do_not_exist,
    uniqueness_is_a_conflict_not_a_crash,
    concurrent_lifecycle_actions_apply_once,
    sessions_expire_and_die_with_their_account,
    shopper_ids_are_issued_by_the_server,
    a_message_batch_is_numbered_and_checked_message_by_message,
    a_claim_is_checked_and_decided_in_one_transaction,
    waiting_chats_are_read_oldest_first_a_page_at_a_time,
    a_full_routing_pass_reaches_every_waiting_chat,
);

/// Merchant A with a store and a department, and a second merchant B.
async fn two_merchants(db: &Db) -> (Merchant, Merchant, Store, Department) {
    let a = db.create_merchant("A").await.unwrap();
    let b = db.create_merchant("B").await.unwrap();
    let s = db.create_store(&a.id, &store("A store")).await.unwrap();
    let d = db.create_department(&a.id, &s.id, "Dep").await.unwrap();
    (a, b, s, d)
}

/// An approved expert of merchant `m`.
async fn approved_expert(db: &Db, m: &MerchantId, email: &str, name: &str) -> Expert {
    let e = NewExpert {
        email,
        name,
        password_hash: "h",
        status: ExpertStatus::Approved,
    };
    db.create_expert(m, &e).await.unwrap()
}

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
    t.close(db).await;
}

async fn another_merchants_objects_do_not_exist(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    let (a, bm, s, d) = two_merchants(&db).await;
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
    t.close(db).await;
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
    t.close(db).await;
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
    t.close(db).await;
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
    t.close(db).await;
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
    t.close(db).await;
}

fn msg(merchant: &str, conversation: &str, sender: Sender, body: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        merchant_id: merchant.into(),
        conversation_id: floorwalker::ids::ConversationId::from_db(conversation.into()),
        client_msg_id: client_id.map(Into::into),
        sender,
        kind: "text",
        body: body.into(),
        data_json: None,
    }
}

/// A plain chat request (no contact, page or product) of `shopper` for a store and department.
fn waiting<'a>(merchant: &'a MerchantId, shopper: &'a ShopperId, store: &'a StoreId, dep: &'a DepartmentId) -> NewConversation<'a> {
    NewConversation {
        merchant_id: merchant,
        shopper_id: shopper,
        store_id: store.as_str(),
        department_id: dep.as_str(),
        contact_expert_id: None,
        offline: None,
        page_url: None,
        page_title: None,
        product_json: None,
    }
}

fn seq_of(o: &AppendOutcome) -> Option<i64> {
    match o {
        AppendOutcome::Stored(m) => Some(m.seq),
        _ => None,
    }
}

/// One batch, many conversations and senders: each message is numbered or refused on its own
/// merits, retries inside and across batches are answered with the original, and the first
/// answer is counted once.
async fn a_message_batch_is_numbered_and_checked_message_by_message(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    let (a, other, s, d) = two_merchants(&db).await;
    let (s1, s2) = (db.create_shopper(&a.id).await.unwrap(), db.create_shopper(&a.id).await.unwrap());
    let conv = |shopper| waiting(&a.id, shopper, &s.id, &d.id);
    let c1 = db.create_conversation(&conv(&s1.id)).await.unwrap().id;
    let c2 = db.create_conversation(&conv(&s2.id)).await.unwrap().id;
    let e = approved_expert(&db, &a.id, "e@a.example", "Eva").await;
    let Claim::Won(claimed) = db.claim(&a.id, &c1, &e.id, |_| true).await.unwrap() else {
        panic!("the first claim wins")
    };
    assert_eq!((claimed.status.as_str(), claimed.expert_name.as_deref()), ("claimed", Some("Eva")));
    let (m, b_id) = (a.id.as_str(), other.id.as_str());
    let shopper = |x: &floorwalker::storage::Shopper| Sender::Shopper(x.id.as_str().to_owned());
    let expert = Sender::Expert {
        id: e.id.as_str().to_owned(),
        name: "Eva".into(),
    };
    let batch = vec![
        msg(m, &c1, shopper(&s1), "one", Some("x1")),
        msg(m, &c2, shopper(&s2), "to two", Some("y1")),
        msg(m, &c1, shopper(&s1), "two", Some("x2")),
        msg(m, &c1, shopper(&s1), "one", Some("x1")),
        msg(m, &c1, shopper(&s1), "not two", Some("x2")),
        msg(m, &c1, expert.clone(), "hello", None),
        msg(m, &c1, expert.clone(), "again", None),
        msg(m, &c2, shopper(&s1), "wrong shopper", Some("z1")),
        msg(m, &c2, expert.clone(), "not claimed by me", None),
        msg(b_id, &c1, shopper(&s1), "other merchant", Some("w1")),
        msg(m, "no-such-conversation", shopper(&s1), "nowhere", Some("v1")),
    ];
    let done = db.append_messages(batch).await.unwrap();
    let o = &done.outcomes;
    assert_eq!(o.len(), 11);
    assert_eq!(
        [0, 1, 2, 5, 6].map(|i| seq_of(&o[i])),
        [Some(1), Some(1), Some(2), Some(3), Some(4)]
    );
    assert!(
        matches!(&o[3], AppendOutcome::Duplicate(v) if v.seq == 1 && v.body == "one"),
        "{:?}",
        o[3]
    );
    assert!(matches!(o[4], AppendOutcome::Conflict), "{:?}", o[4]);
    // Another shopper's chat and a chat the expert does not hold are not found, exactly like one
    // that does not exist (issue 18: no answer tells whether an id is in use).
    assert!(matches!(o[7], AppendOutcome::NotFound), "{:?}", o[7]);
    assert!(matches!(o[8], AppendOutcome::NotFound), "{:?}", o[8]);
    assert!(matches!(o[9], AppendOutcome::NotFound), "{:?}", o[9]);
    assert!(matches!(o[10], AppendOutcome::NotFound), "{:?}", o[10]);
    assert_eq!(
        done.first_responses.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![5],
        "the first answer, once"
    );
    assert_eq!(done.places[0], (s.id.as_str().to_owned(), d.id.as_str().to_owned()));
    if let AppendOutcome::Stored(v) = &o[5] {
        assert_eq!((v.author_role.as_str(), v.expert_name.as_deref()), ("expert", Some("Eva")));
    }

    // The next batch: retries answered with the originals, new messages continue the count.
    let done = db
        .append_messages(vec![
            msg(m, &c1, shopper(&s1), "one", Some("x1")),
            msg(m, &c1, shopper(&s1), "changed", Some("x2")),
            msg(m, &c1, shopper(&s1), "three", Some("x3")),
            msg(m, &c1, expert.clone(), "more", None),
        ])
        .await
        .unwrap();
    let o = &done.outcomes;
    assert!(matches!(&o[0], AppendOutcome::Duplicate(v) if v.seq == 1 && v.client_msg_id.as_deref() == Some("x1")));
    assert!(matches!(o[1], AppendOutcome::Conflict));
    assert_eq!((seq_of(&o[2]), seq_of(&o[3])), (Some(5), Some(6)));
    assert!(done.first_responses.is_empty(), "answered already");

    let stored = db.messages_after(&a.id, &c1, 0, 100).await.unwrap();
    let seqs: Vec<(i64, &str)> = stored.iter().map(|m| (m.seq, m.body.as_str())).collect();
    assert_eq!(
        seqs,
        vec![(1, "one"), (2, "two"), (3, "hello"), (4, "again"), (5, "three"), (6, "more")]
    );
    let row = db.conversation(&a.id, &c1).await.unwrap();
    assert_eq!(row.last_seq, 6);
    assert!(row.first_response_at.is_some() && row.last_expert_msg_at.is_some());
    assert_eq!(db.conversation(&a.id, &c2).await.unwrap().last_seq, 1);
    assert!(db.conversation(&a.id, &c2).await.unwrap().first_response_at.is_none());
    t.close(db).await;
}

/// A claim reads, checks and takes the conversation in one transaction: only a waiting
/// conversation of the expert's own merchant, in a place they work (or transferred to them by
/// name), and only once; a refused claim changes nothing.
async fn a_claim_is_checked_and_decided_in_one_transaction(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    let (a, other, s, d) = two_merchants(&db).await;
    let shopper = db.create_shopper(&a.id).await.unwrap();
    let eva = approved_expert(&db, &a.id, "e@a.example", "Eva").await;
    let olle = approved_expert(&db, &a.id, "o@a.example", "Olle").await;
    let c = db.create_conversation(&waiting(&a.id, &shopper.id, &s.id, &d.id)).await.unwrap().id;
    let works_here = {
        let (s, d) = (s.id.as_str().to_owned(), d.id.as_str().to_owned());
        move |row: &floorwalker::storage::ConversationRow| row.store_id == s && row.department_id == d
    };

    // Refused claims change nothing.
    let no = db.claim(&a.id, &c, &eva.id, |_| false).await.unwrap();
    assert!(matches!(no, Claim::NotEligible), "{no:?}");
    let no = db.claim(&other.id, &c, &eva.id, |_| true).await.unwrap();
    assert!(
        matches!(no, Claim::Gone),
        "another merchant's conversation does not exist for it: {no:?}"
    );
    let no = db
        .claim(&a.id, &floorwalker::ids::ConversationId::generate(), &eva.id, |_| true)
        .await
        .unwrap();
    assert!(matches!(no, Claim::Gone), "{no:?}");
    let row = db.conversation(&a.id, &c).await.unwrap();
    assert!(row.is_waiting() && row.expert_id.is_none(), "{row:?}");
    assert!(db.contacts_of(&a.id, eva.id.as_str(), None).await.unwrap().is_empty());

    // The first eligible claim wins, the shopper becomes a contact; the next one is told it is taken.
    let Claim::Won(won) = db.claim(&a.id, &c, &eva.id, works_here.clone()).await.unwrap() else {
        panic!("Eva's claim wins")
    };
    assert_eq!((won.status.as_str(), won.expert_id.as_deref()), ("claimed", Some(eva.id.as_str())));
    assert!(db.is_contact(&a.id, eva.id.as_str(), shopper.id.as_str()).await.unwrap());
    let late = db.claim(&a.id, &c, &olle.id, works_here.clone()).await.unwrap();
    assert!(matches!(late, Claim::Taken), "{late:?}");

    // Transferred to Olle by name: only Olle may claim it, even where Eva works.
    assert!(db
        .transfer(
            &a.id,
            &c,
            eva.id.as_str(),
            s.id.as_str(),
            d.id.as_str(),
            Some(olle.id.as_str()),
            Some("for you")
        )
        .await
        .unwrap());
    let no = db.claim(&a.id, &c, &eva.id, works_here.clone()).await.unwrap();
    assert!(matches!(no, Claim::NotEligible), "{no:?}");
    let Claim::Won(won) = db.claim(&a.id, &c, &olle.id, |_| false).await.unwrap() else {
        panic!("the named expert may claim a transfer outside their departments")
    };
    assert_eq!(
        (won.expert_id.as_deref(), won.target_expert_id.as_deref()),
        (Some(olle.id.as_str()), None)
    );

    // An ended conversation is gone, not taken.
    assert_eq!(
        db.finish(&a.id, &c, "expert").await.unwrap(),
        Some(floorwalker::storage::ConversationStatus::Ended)
    );
    let no = db.claim(&a.id, &c, &eva.id, works_here).await.unwrap();
    assert!(matches!(no, Claim::Gone), "{no:?}");
    t.close(db).await;
}

/// Routing reads waiting chats a page at a time (`waiting_page`, after the last one's
/// `(queued_at, id)`): the pages together are every waiting chat of every merchant, oldest
/// first, each once, and nothing that is no longer waiting; the per-merchant read sees only
/// that merchant's.
async fn waiting_chats_are_read_oldest_first_a_page_at_a_time(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    let (a, other, s, d) = two_merchants(&db).await;
    let os = db.create_store(&other.id, &store("B store")).await.unwrap();
    let od = db.create_department(&other.id, &os.id, "Dep").await.unwrap();
    let eva = approved_expert(&db, &a.id, "e@a.example", "Eva").await;
    let mut made = Vec::new();
    for i in 0..45 {
        let (m, st, dep) = if i % 3 == 0 { (&other, &os, &od) } else { (&a, &s, &d) };
        let shopper = db.create_shopper(&m.id).await.unwrap();
        made.push(db.create_conversation(&waiting(&m.id, &shopper.id, &st.id, &dep.id)).await.unwrap());
    }
    // One is claimed and one ended: neither waits any more.
    let Claim::Won(_) = db.claim(&a.id, &made[4].id, &eva.id, |_| true).await.unwrap() else {
        panic!("the claim wins")
    };
    db.finish(&a.id, &made[7].id, "shopper").await.unwrap();

    let mut paged = Vec::new();
    let mut after: Option<(i64, floorwalker::ids::ConversationId)> = None;
    loop {
        let page = db
            .waiting_page(after.as_ref().map(|(at, id)| (*at, id.as_str())), 16)
            .await
            .unwrap();
        assert!(page.len() <= 16);
        paged.extend(page.iter().map(|r| (r.queued_at, r.id.clone())));
        match page.last() {
            Some(last) if page.len() == 16 => after = Some((last.queued_at, last.id.clone())),
            _ => break,
        }
    }
    let mut expected: Vec<(i64, floorwalker::ids::ConversationId)> = made
        .iter()
        .filter(|c| c.id != made[4].id && c.id != made[7].id)
        .map(|c| (c.queued_at, c.id.clone()))
        .collect();
    expected.sort();
    assert_eq!(paged.len(), 43, "every waiting chat once");
    assert_eq!(paged, expected, "oldest first, by (queued_at, id), across pages");
    let all: Vec<floorwalker::ids::ConversationId> = db
        .waiting_conversations_limit(None, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(all, expected.iter().map(|e| e.1.clone()).collect::<Vec<_>>());
    let mine = db.waiting_conversations_limit(Some(&a.id), 300).await.unwrap();
    assert_eq!(mine.len(), 28);
    assert!(mine.iter().all(|r| r.merchant_id == a.id.as_str()), "only merchant A's");
    t.close(db).await;
}

/// The once-a-second routing pass reads the queue a page at a time: chats past the first pages
/// are handled too. Here every chat has waited past the merchant's limit, so one pass (the
/// background one stopped) must mark every one of them missed.
async fn a_full_routing_pass_reaches_every_waiting_chat(b: Backend) {
    let t = TestDb::new(b).await;
    let db = t.connect().await;
    let (a, _, s, d) = two_merchants(&db).await;
    let n = floorwalker::hub::FULL_PASS_PAGE as usize * 2 + 7;
    let mut made = Vec::new();
    for _ in 0..n {
        let shopper = db.create_shopper(&a.id).await.unwrap();
        made.push(db.create_conversation(&waiting(&a.id, &shopper.id, &s.id, &d.id)).await.unwrap().id);
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (hub, tasks) = floorwalker::hub::Hub::start(db.clone(), shutdown.clone(), None).await.unwrap();
    tasks.router.abort();
    let _ = tasks.router.await;
    // Ten minutes ago, past the default limit of three.
    sqlx::query("UPDATE conversations SET queued_at = queued_at - 600000")
        .execute(&db.pool)
        .await
        .unwrap();
    hub.route_once().await.unwrap();
    assert!(
        db.waiting_conversations_limit(None, i64::MAX).await.unwrap().is_empty(),
        "nothing left waiting"
    );
    for id in &made {
        assert_eq!(db.conversation(&a.id, id).await.unwrap().status, "missed", "{id}");
    }
    shutdown.cancel();
    t.close(db).await;
}
