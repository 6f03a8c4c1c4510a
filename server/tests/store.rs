//! `SqliteStore` against a real database file in a temporary directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::TempDir;
use vox_messenger_server::store::sqlite::{SCHEMA_VERSION, SqliteStore};
use vox_messenger_server::store::{NewUser, Store, StoreError, TokenKind, TokenRow, UserRef};

fn db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vox.db");
    (dir, path)
}

fn uref(user: &str, app: &str, account: &str) -> UserRef {
    UserRef {
        user: user.into(),
        app: app.into(),
        account: account.into(),
    }
}

fn new_user(user: &str, password: &str) -> NewUser {
    NewUser {
        name: uref(user, "app", "acc"),
        display_name: format!("{user} display"),
        password: password.into(),
    }
}

/// A store with account `acc`, app `app.acc` and user `user1@app.acc` (password `secret`).
async fn provisioned(path: &Path) -> (SqliteStore, i64) {
    let store = SqliteStore::open(path).unwrap();
    store.create_account("acc", None).await.unwrap();
    store.create_app("acc", "app").await.unwrap();
    let user = store
        .create_user(new_user("user1", "secret"))
        .await
        .unwrap();
    (store, user.id)
}

fn token(user_id: i64, kind: TokenKind) -> TokenRow {
    TokenRow {
        user_id,
        kind,
        expires_at: 2_000_000_000,
        device_token: None,
    }
}

#[tokio::test]
async fn migrations_apply_and_reopen_is_idempotent() {
    let (_dir, path) = db();
    drop(SqliteStore::open(&path).unwrap());
    let version = || -> i64 {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(), SCHEMA_VERSION);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let mut tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tables.retain(|t| t != "sqlite_sequence");
        assert_eq!(
            tables,
            [
                "accounts",
                "apps",
                "conversations",
                "events",
                "message_edits",
                "messages",
                "notification_settings",
                "one_time_keys",
                "participants",
                "participation",
                "request_log",
                "subscriptions",
                "tokens",
                "users"
            ]
        );
    }
    for _ in 0..2 {
        let store = SqliteStore::open(&path).unwrap();
        store.health_check().await.unwrap();
        assert_eq!(version(), SCHEMA_VERSION);
    }
}

#[tokio::test]
async fn refuses_a_newer_schema() {
    let (_dir, path) = db();
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::Backend(msg)) => assert!(msg.contains("newer"), "{msg}"),
        other => panic!("expected a backend error, got {:?}", other.err()),
    }
}

#[tokio::test]
async fn accounts_with_children() {
    let (_dir, path) = db();
    let store = SqliteStore::open(&path).unwrap();
    let acc = store.create_account("acc", None).await.unwrap();
    assert_eq!(acc.name, "acc");
    assert_eq!(acc.parent, None);
    assert!(acc.created_at > 1_600_000_000);
    let kid = store.create_account("kid-1", Some("acc")).await.unwrap();
    assert_eq!(kid.parent.as_deref(), Some("acc"));

    let accounts = store.list_accounts().await.unwrap();
    assert_eq!(accounts, vec![acc, kid]);

    assert!(matches!(
        store.create_account("acc", None).await,
        Err(StoreError::Conflict(m)) if m == "account 'acc'"
    ));
    assert!(matches!(
        store.create_account("orphan", Some("nope")).await,
        Err(StoreError::NotFound(_))
    ));
    for bad in ["", "a.b", "a@b", "a_b", "spa ce", "ü", &"x".repeat(65)] {
        assert!(
            matches!(
                store.create_account(bad, None).await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?} accepted"
        );
    }
    store.create_account(&"x".repeat(64), None).await.unwrap();
    assert_eq!(store.list_accounts().await.unwrap().len(), 3);
}

#[tokio::test]
async fn apps() {
    let (_dir, path) = db();
    let store = SqliteStore::open(&path).unwrap();
    store.create_account("acc", None).await.unwrap();
    store.create_account("other", None).await.unwrap();
    let app = store.create_app("acc", "app").await.unwrap();
    assert_eq!((app.name.as_str(), app.account.as_str()), ("app", "acc"));
    // The same app name in another account is a different app.
    let twin = store.create_app("other", "app").await.unwrap();
    assert_ne!(app.id, twin.id);

    assert_eq!(store.list_apps(None).await.unwrap().len(), 2);
    assert_eq!(store.list_apps(Some("acc")).await.unwrap(), vec![app]);
    assert!(matches!(
        store.list_apps(Some("nope")).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.create_app("acc", "app").await,
        Err(StoreError::Conflict(m)) if m == "app 'app.acc'"
    ));
    assert!(matches!(
        store.create_app("nope", "app").await,
        Err(StoreError::NotFound(_))
    ));
    for bad in ["", "my.app", "my_app", "a/b"] {
        assert!(matches!(
            store.create_app("acc", bad).await,
            Err(StoreError::Invalid(_))
        ));
    }
}

#[tokio::test]
async fn users_create_lookup_list() {
    let (_dir, path) = db();
    let (store, id) = provisioned(&path).await;
    let user = store
        .user_by_name(&uref("user1", "app", "acc"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.id, id);
    assert_eq!(user.name.im_name(), "user1@app.acc");
    assert_eq!(user.display_name, "user1 display");
    assert_eq!(user.md5_digest, "4e89e865d6dd680d0e499ed685e83cef");
    assert_eq!(
        user.sha256_digest,
        "2ab0257e31a5d03b0fcf66b0d032548b5d72a7be7e09209516f963831b05fa99"
    );
    assert_eq!(user.custom_data, serde_json::json!({}));
    assert_eq!(user.private_custom_data, serde_json::json!({}));
    assert!(!user.deleted);
    assert_eq!(store.user_by_id(id).await.unwrap(), Some(user.clone()));
    assert_eq!(store.user_by_id(id + 100).await.unwrap(), None);
    assert_eq!(
        store
            .user_by_name(&uref("User1", "app", "acc"))
            .await
            .unwrap(),
        None,
        "names are case-sensitive"
    );

    // Users in a second app of the same account and in another account.
    store.create_app("acc", "app2").await.unwrap();
    store.create_account("acc2", None).await.unwrap();
    store.create_app("acc2", "app").await.unwrap();
    let u2 = store
        .create_user(NewUser {
            name: uref("user.2_x-y", "app2", "acc"),
            display_name: "Ünïcode 名前".into(),
            password: "pw".into(),
        })
        .await
        .unwrap();
    assert_eq!(u2.id, id + 1);
    let u3 = store
        .create_user(NewUser {
            name: uref("user1", "app", "acc2"),
            display_name: "x".into(),
            password: "pw".into(),
        })
        .await
        .unwrap();
    let ids = |users: Vec<vox_messenger_server::store::User>| -> Vec<i64> {
        users.into_iter().map(|u| u.id).collect()
    };
    assert_eq!(
        ids(store.list_users(None, None).await.unwrap()),
        [id, u2.id, u3.id]
    );
    assert_eq!(
        ids(store.list_users(None, Some("acc")).await.unwrap()),
        [id, u2.id]
    );
    assert_eq!(
        ids(store.list_users(Some("app"), None).await.unwrap()),
        [id, u3.id]
    );
    assert_eq!(
        ids(store.list_users(Some("app"), Some("acc2")).await.unwrap()),
        [u3.id]
    );
    for (app, account) in [
        (Some("nope"), None),
        (None, Some("nope")),
        (Some("app2"), Some("acc2")),
    ] {
        assert!(matches!(
            store.list_users(app, account).await,
            Err(StoreError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn user_errors() {
    let (_dir, path) = db();
    let (store, _) = provisioned(&path).await;
    assert!(matches!(
        store.create_user(new_user("user1", "other")).await,
        Err(StoreError::Conflict(m)) if m == "user 'user1@app.acc'"
    ));
    let mut missing_app = new_user("u", "pw");
    missing_app.name.app = "nope".into();
    assert!(matches!(
        store.create_user(missing_app).await,
        Err(StoreError::NotFound(m)) if m == "app 'nope.acc'"
    ));
    for bad in ["", "a@b", "sp ace", "a/b", "ü", &"u".repeat(65)] {
        assert!(
            matches!(
                store.create_user(new_user(bad, "pw")).await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?} accepted"
        );
    }
    let mut no_display = new_user("u", "pw");
    no_display.display_name.clear();
    let mut long_display = new_user("u", "pw");
    long_display.display_name = "d".repeat(257);
    let mut control = new_user("u", "pw");
    control.display_name = "line\nbreak".into();
    let no_password = new_user("u", "");
    for bad in [no_display, long_display, control, no_password] {
        match store.create_user(bad).await {
            Err(StoreError::Invalid(msg)) => assert!(!msg.is_empty()),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
    let mut max_display = new_user("u", "pw");
    max_display.display_name = "d".repeat(256);
    store.create_user(max_display).await.unwrap();

    let ghost = uref("ghost", "app", "acc");
    assert!(matches!(
        store.set_password(&ghost, "x").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_display_name(&ghost, "x").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_user(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn set_password_and_display_name() {
    let (_dir, path) = db();
    let (store, id) = provisioned(&path).await;
    let name = uref("user1", "app", "acc");
    store
        .insert_token("h-access", token(id, TokenKind::Access))
        .await
        .unwrap();
    store
        .put_one_time_key(id, "k", 2_000_000_000)
        .await
        .unwrap();

    store.set_password(&name, "other").await.unwrap();
    let user = store.user_by_id(id).await.unwrap().unwrap();
    assert_ne!(user.md5_digest, "4e89e865d6dd680d0e499ed685e83cef");
    assert_eq!(user.md5_digest.len(), 32);
    assert_eq!(user.sha256_digest.len(), 64);
    // Changing the password revokes existing sessions.
    assert_eq!(store.find_token("h-access").await.unwrap(), None);
    assert_eq!(store.take_one_time_key(id).await.unwrap(), None);

    store.set_password(&name, "secret").await.unwrap();
    let user = store.user_by_id(id).await.unwrap().unwrap();
    assert_eq!(user.md5_digest, "4e89e865d6dd680d0e499ed685e83cef");
    assert!(matches!(
        store.set_password(&name, "").await,
        Err(StoreError::Invalid(_))
    ));

    store.set_display_name(&name, "User One").await.unwrap();
    let user = store.user_by_id(id).await.unwrap().unwrap();
    assert_eq!(user.display_name, "User One");
    assert!(matches!(
        store.set_display_name(&name, "").await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn delete_user_marks_deleted_and_revokes() {
    let (_dir, path) = db();
    let (store, id) = provisioned(&path).await;
    let other = store.create_user(new_user("user2", "pw")).await.unwrap();
    let name = uref("user1", "app", "acc");
    store
        .insert_token("a1", token(id, TokenKind::Access))
        .await
        .unwrap();
    store
        .insert_token("r1", token(id, TokenKind::Refresh))
        .await
        .unwrap();
    store
        .insert_token("a2", token(other.id, TokenKind::Access))
        .await
        .unwrap();
    store
        .put_one_time_key(id, "key", 2_000_000_000)
        .await
        .unwrap();

    store.delete_user(&name).await.unwrap();
    let user = store.user_by_name(&name).await.unwrap().unwrap();
    assert!(user.deleted, "the row stays, flagged");
    assert_eq!(user.id, id);
    assert_eq!(store.find_token("a1").await.unwrap(), None);
    assert_eq!(store.find_token("r1").await.unwrap(), None);
    assert_eq!(store.take_one_time_key(id).await.unwrap(), None);
    assert!(
        store.find_token("a2").await.unwrap().is_some(),
        "other users keep their tokens"
    );
    // Idempotent; a deleted user gets no new tokens or keys, nor password changes.
    store.delete_user(&name).await.unwrap();
    assert!(matches!(
        store.insert_token("a3", token(id, TokenKind::Access)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.put_one_time_key(id, "k2", 2_000_000_000).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_password(&name, "x").await,
        Err(StoreError::NotFound(_))
    ));
    // The name stays taken: its IM id is not handed to someone else.
    assert!(matches!(
        store.create_user(new_user("user1", "pw")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.list_users(None, None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn tokens_insert_find_take_revoke() {
    let (_dir, path) = db();
    let (store, id) = provisioned(&path).await;
    let refresh = TokenRow {
        user_id: id,
        kind: TokenKind::Refresh,
        expires_at: 1_900_000_000,
        device_token: Some("push-token".into()),
    };
    store.insert_token("r", refresh.clone()).await.unwrap();
    store
        .insert_token("a", token(id, TokenKind::Access))
        .await
        .unwrap();
    assert!(matches!(
        store.insert_token("r", refresh.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .insert_token("x", token(999_999, TokenKind::Access))
            .await,
        Err(StoreError::NotFound(_))
    ));

    assert_eq!(store.find_token("r").await.unwrap(), Some(refresh.clone()));
    assert_eq!(store.find_token("nope").await.unwrap(), None);
    assert_eq!(store.take_token("r").await.unwrap(), Some(refresh));
    assert_eq!(store.take_token("r").await.unwrap(), None);
    assert_eq!(store.find_token("r").await.unwrap(), None);

    store.revoke_tokens(id).await.unwrap();
    assert_eq!(store.find_token("a").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_eight_concurrent_takers_wins() {
    let (_dir, path) = db();
    let (store, id) = provisioned(&path).await;
    // Two stores on one file: the race is decided by SQLite, not only by one store's mutex.
    let stores = [Arc::new(store), Arc::new(SqliteStore::open(&path).unwrap())];
    for round in 0..20 {
        let hash = format!("refresh-{round}");
        stores[0]
            .insert_token(&hash, token(id, TokenKind::Refresh))
            .await
            .unwrap();
        let start = Arc::new(tokio::sync::Barrier::new(8));
        let takers: Vec<_> = (0..8)
            .map(|i| {
                let store = Arc::clone(&stores[i % 2]);
                let (hash, start) = (hash.clone(), Arc::clone(&start));
                tokio::spawn(async move {
                    start.wait().await;
                    store.take_token(&hash).await.unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for taker in takers {
            if taker.await.unwrap().is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test]
async fn one_time_keys_newest_wins_single_use() {
    let (_dir, path) = db();
    let (store, id) = provisioned(&path).await;
    assert_eq!(store.take_one_time_key(id).await.unwrap(), None);
    store.put_one_time_key(id, "old", 100).await.unwrap();
    store.put_one_time_key(id, "new", 200).await.unwrap();
    assert_eq!(
        store.take_one_time_key(id).await.unwrap(),
        Some(("new".to_owned(), 200))
    );
    assert_eq!(store.take_one_time_key(id).await.unwrap(), None);
    assert!(matches!(
        store.put_one_time_key(999_999, "k", 1).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn data_survives_reopen() {
    let (_dir, path) = db();
    let id = {
        let (store, id) = provisioned(&path).await;
        store.create_account("kid", Some("acc")).await.unwrap();
        store
            .set_display_name(&uref("user1", "app", "acc"), "User One")
            .await
            .unwrap();
        store
            .insert_token("t", token(id, TokenKind::Access))
            .await
            .unwrap();
        store.put_one_time_key(id, "k", 300).await.unwrap();
        id
    };
    let store = SqliteStore::open(&path).unwrap();
    let accounts = store.list_accounts().await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[1].parent.as_deref(), Some("acc"));
    assert_eq!(store.list_apps(None).await.unwrap().len(), 1);
    let user = store.user_by_id(id).await.unwrap().unwrap();
    assert_eq!(user.display_name, "User One");
    assert_eq!(user.md5_digest, "4e89e865d6dd680d0e499ed685e83cef");
    assert_eq!(
        store.find_token("t").await.unwrap(),
        Some(token(id, TokenKind::Access))
    );
    assert_eq!(
        store.take_one_time_key(id).await.unwrap(),
        Some(("k".to_owned(), 300))
    );
    // Ids keep counting after a reopen.
    let next = store.create_user(new_user("user2", "pw")).await.unwrap();
    assert_eq!(next.id, id + 1);
}

#[tokio::test]
async fn user_json_hides_secrets() {
    let (_dir, path) = db();
    let (store, id) = provisioned(&path).await;
    let user = store.user_by_id(id).await.unwrap().unwrap();
    let json = serde_json::to_value(&user).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "custom_data",
            "deleted",
            "display_name",
            "id",
            "name"
        ]
    );
    assert_eq!(
        json["name"],
        serde_json::json!({"user": "user1", "app": "app", "account": "acc"})
    );
}

/// A database written by the previous schema (4: messages kept a copy of text and payload) is
/// upgraded in place: the message rows stay, their copies of the words are gone.
#[tokio::test]
async fn version_4_database_upgrades_keeping_its_messages() {
    let (_dir, path) = db();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../migrations/0001_init.sql"),
            include_str!("../migrations/0002_messaging.sql"),
            include_str!("../migrations/0003_request_dedup.sql"),
            include_str!("../migrations/0004_message_edits.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        // The row alone: its conversation and sender do not matter to this migration.
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        conn.execute(
            "INSERT INTO messages (uuid, conv_id, seq, sender_id, text, payload, created_at) \
             VALUES ('m-1', 7, 12, 1001, 'hello', '[]', 1700000000)",
            [],
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 4).unwrap();
    }
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let row: (String, i64, i64, i64, i64) = conn
        .query_row(
            "SELECT uuid, conv_id, seq, sender_id, removed FROM messages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(row, ("m-1".to_owned(), 7, 12, 1001, 0));
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('messages') ORDER BY cid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        columns,
        [
            "uuid",
            "conv_id",
            "seq",
            "sender_id",
            "created_at",
            "edited_at",
            "removed"
        ]
    );
}
