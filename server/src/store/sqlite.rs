//! SQLite implementation of [`Store`]: one real database file.
//!
//! # Durability
//! The file runs with `journal_mode=WAL` and `synchronous=FULL`: every write method returns only
//! after its transaction has committed **and** the WAL has been fsynced. A caller that sends its
//! reply after the `.await` therefore never acknowledges a change that a crash or power cut could
//! still lose. `foreign_keys=ON` and a `busy_timeout` are set on every connection.
//!
//! # Schema and migrations
//! The SQL files in `server/migrations/` (`0001_init.sql`, …) are embedded into the binary and
//! applied in order by [`SqliteStore::open`], each in its own transaction that also bumps
//! `PRAGMA user_version`. Re-opening an up-to-date file applies nothing; a file written by a newer
//! server (higher `user_version`) is refused rather than misread.
//!
//! # Concurrency
//! rusqlite is synchronous. Every call runs on Tokio's blocking pool against one connection behind
//! a `std::sync::Mutex` ([`SqliteStore::call`], the only place that touches the connection), so the
//! async runtime never blocks on disk. SQLite serialises writers anyway; a dedicated writer thread
//! with group commit can later replace `call` without touching the methods. Write transactions are
//! `BEGIN IMMEDIATE`, so several processes (or several `SqliteStore`s) on one file wait on the
//! `busy_timeout` instead of failing on a lock upgrade.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, ffi, params};
use serde_json::Value;
use vox_protocol::auth;

use super::{
    Account, App, NewUser, Store, StoreError, StoreResult, TokenKind, TokenRow, User, UserRef,
};

/// The embedded migrations, in order; migration `i` (0-based) leaves `user_version = i + 1`.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init.sql",
        include_str!("../../migrations/0001_init.sql"),
    ),
    (
        "0002_messaging.sql",
        include_str!("../../migrations/0002_messaging.sql"),
    ),
    (
        "0003_request_dedup.sql",
        include_str!("../../migrations/0003_request_dedup.sql"),
    ),
    (
        "0004_message_edits.sql",
        include_str!("../../migrations/0004_message_edits.sql"),
    ),
    (
        "0005_message_index.sql",
        include_str!("../../migrations/0005_message_index.sql"),
    ),
];

/// The schema version (`PRAGMA user_version`) this build writes: the number of migrations.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a statement waits for another connection's lock before failing with "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest user, app or account name, in characters.
pub const MAX_NAME_LEN: usize = 64;
/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME_LEN: usize = 256;
/// Longest password, in bytes.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// The SQLite-backed [`Store`]. Cheap to share behind an `Arc`.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Open (or create) the database file at `path`, configure it (WAL, `synchronous=FULL`,
    /// foreign keys, busy timeout) and apply any pending migrations.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        Self::init(conn, true)
    }

    /// A private in-memory database with the same schema, for unit tests of code built on
    /// [`Store`]. Nothing is durable (no WAL, no file).
    pub fn open_in_memory() -> StoreResult<SqliteStore> {
        Self::init(Connection::open_in_memory()?, false)
    }

    fn init(mut conn: Connection, wal: bool) -> StoreResult<SqliteStore> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        if wal {
            let mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Backend(format!(
                    "cannot switch the database to WAL (journal_mode is {mode})"
                )));
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Run `f` with the connection on the blocking pool. The one place that touches the
    /// connection: swap this for a writer thread (group commit) without changing the methods.
    async fn call<R, F>(&self, f: F) -> StoreResult<R>
    where
        F: FnOnce(&mut Connection) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic inside `f` dropped its `Transaction`, which rolled back: the connection is
            // consistent, so a poisoned lock can be used again.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "database schema version {current} is newer than this server supports \
             ({SCHEMA_VERSION}); upgrade the server"
        )));
    }
    for (index, (file, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Backend(format!("migration {file} failed: {e}")))?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
        tracing::info!(migration = file, "applied database migration");
    }
    Ok(())
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// True when `e` is a constraint failure with the given extended result code.
fn is_constraint(e: &rusqlite::Error, extended_code: i32) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == extended_code)
}

/// Map a failed INSERT: a UNIQUE / PRIMARY KEY violation becomes `Conflict(what)`.
fn conflict_or_backend(e: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    if is_constraint(&e, ffi::SQLITE_CONSTRAINT_UNIQUE)
        || is_constraint(&e, ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    {
        StoreError::Conflict(what())
    } else {
        e.into()
    }
}

fn write_tx(conn: &mut Connection) -> StoreResult<Transaction<'_>> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// --- validation ----------------------------------------------------------------------------

fn check_name(kind: &str, name: &str, allowed: fn(char) -> bool, rule: &str) -> StoreResult<()> {
    let len = name.chars().count();
    if (1..=MAX_NAME_LEN).contains(&len) && name.chars().all(allowed) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{kind} name {name:?} must be 1 to {MAX_NAME_LEN} characters of {rule}"
        )))
    }
}

/// A user's short name: 1..=64 characters of `[A-Za-z0-9_.-]` (no `@`).
pub fn validate_user_name(name: &str) -> StoreResult<()> {
    check_name(
        "user",
        name,
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'),
        "A-Z a-z 0-9 _ . -",
    )
}

/// An application name: 1..=64 characters of `[A-Za-z0-9-]` (no dots: a login name is
/// `user@app.account`).
pub fn validate_app_name(name: &str) -> StoreResult<()> {
    check_name(
        "app",
        name,
        |c| c.is_ascii_alphanumeric() || c == '-',
        "A-Z a-z 0-9 -",
    )
}

/// An account name: same rule as [`validate_app_name`].
pub fn validate_account_name(name: &str) -> StoreResult<()> {
    check_name(
        "account",
        name,
        |c| c.is_ascii_alphanumeric() || c == '-',
        "A-Z a-z 0-9 -",
    )
}

/// All three parts of `user@app.account`.
pub fn validate_user_ref(name: &UserRef) -> StoreResult<()> {
    validate_user_name(&name.user)?;
    validate_app_name(&name.app)?;
    validate_account_name(&name.account)
}

/// A display name: 1..=256 characters, no control characters.
pub fn validate_display_name(display_name: &str) -> StoreResult<()> {
    let len = display_name.chars().count();
    if !(1..=MAX_DISPLAY_NAME_LEN).contains(&len) {
        return Err(StoreError::Invalid(format!(
            "display name must be 1 to {MAX_DISPLAY_NAME_LEN} characters (got {len})"
        )));
    }
    if display_name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "display name must not contain control characters".into(),
        ));
    }
    Ok(())
}

/// A password: 1..=1024 bytes.
pub fn validate_password(password: &str) -> StoreResult<()> {
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
        return Err(StoreError::Invalid(format!(
            "password must be 1 to {MAX_PASSWORD_LEN} bytes"
        )));
    }
    Ok(())
}

/// The two password-equivalent digests the wire protocol checks (hex MD5 and hex SHA-256 of
/// `"{user}:voximplant.com:{password}"`, `user` being the short name).
fn password_digests(user: &str, password: &str) -> (String, String) {
    (
        auth::password_digest_md5(user, password),
        auth::password_digest_sha256(user, password),
    )
}

// --- row mapping ---------------------------------------------------------------------------

const USER_SELECT: &str = "SELECT u.id, u.name, ap.name, ac.name, u.display_name, u.md5_digest, \
     u.sha256_digest, u.custom_data, u.private_custom_data, u.deleted, u.created_at \
     FROM users u JOIN apps ap ON ap.id = u.app_id JOIN accounts ac ON ac.id = ap.account_id";

fn json_column(row: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        name: UserRef {
            user: row.get(1)?,
            app: row.get(2)?,
            account: row.get(3)?,
        },
        display_name: row.get(4)?,
        md5_digest: row.get(5)?,
        sha256_digest: row.get(6)?,
        custom_data: json_column(row, 7)?,
        private_custom_data: json_column(row, 8)?,
        deleted: row.get(9)?,
        created_at: row.get(10)?,
    })
}

fn kind_to_sql(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "access",
        TokenKind::Refresh => "refresh",
    }
}

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<TokenRow> {
    let kind: String = row.get(1)?;
    let kind = match kind.as_str() {
        "access" => TokenKind::Access,
        "refresh" => TokenKind::Refresh,
        other => {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                1,
                Type::Text,
                format!("unknown token kind {other:?}").into(),
            ));
        }
    };
    Ok(TokenRow {
        user_id: row.get(0)?,
        kind,
        expires_at: row.get(2)?,
        device_token: row.get(3)?,
    })
}

fn account_id(conn: &Connection, account: &str) -> StoreResult<i64> {
    conn.query_row("SELECT id FROM accounts WHERE name = ?1", [account], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("account '{account}'")))
}

fn app_id(conn: &Connection, account: &str, app: &str) -> StoreResult<i64> {
    conn.query_row(
        "SELECT ap.id FROM apps ap JOIN accounts ac ON ac.id = ap.account_id \
         WHERE ac.name = ?1 AND ap.name = ?2",
        [account, app],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("app '{app}.{account}'")))
}

/// `(id, deleted)` of a user, deleted ones included.
fn find_user_id(conn: &Connection, name: &UserRef) -> StoreResult<Option<(i64, bool)>> {
    Ok(conn
        .query_row(
            "SELECT u.id, u.deleted FROM users u JOIN apps ap ON ap.id = u.app_id \
             JOIN accounts ac ON ac.id = ap.account_id \
             WHERE u.name = ?1 AND ap.name = ?2 AND ac.name = ?3",
            [&name.user, &name.app, &name.account],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The id of a user that exists and is not deleted, else `NotFound`.
fn live_user_id(conn: &Connection, name: &UserRef) -> StoreResult<i64> {
    match find_user_id(conn, name)? {
        Some((id, false)) => Ok(id),
        Some((_, true)) => Err(StoreError::NotFound(format!(
            "user '{}' (deleted)",
            name.im_name()
        ))),
        None => Err(StoreError::NotFound(format!("user '{}'", name.im_name()))),
    }
}

fn revoke_all(tx: &Transaction<'_>, user_id: i64) -> StoreResult<()> {
    tx.execute("DELETE FROM tokens WHERE user_id = ?1", [user_id])?;
    tx.execute("DELETE FROM one_time_keys WHERE user_id = ?1", [user_id])?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn health_check(&self) -> StoreResult<()> {
        self.call(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    async fn create_account(&self, name: &str, parent: Option<&str>) -> StoreResult<Account> {
        validate_account_name(name)?;
        let name = name.to_owned();
        let parent = parent.map(str::to_owned);
        self.call(move |conn| {
            let tx = write_tx(conn)?;
            let parent_id = match &parent {
                Some(p) => Some(account_id(&tx, p).map_err(|e| match e {
                    StoreError::NotFound(_) => {
                        StoreError::NotFound(format!("parent account '{p}'"))
                    }
                    other => other,
                })?),
                None => None,
            };
            let created_at = now();
            tx.execute(
                "INSERT INTO accounts (name, parent_id, created_at) VALUES (?1, ?2, ?3)",
                params![name, parent_id, created_at],
            )
            .map_err(|e| conflict_or_backend(e, || format!("account '{name}'")))?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(Account {
                id,
                name,
                parent,
                created_at,
            })
        })
        .await
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        self.call(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT a.id, a.name, p.name, a.created_at FROM accounts a \
                 LEFT JOIN accounts p ON p.id = a.parent_id ORDER BY a.id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(Account {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    parent: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn create_app(&self, account: &str, app: &str) -> StoreResult<App> {
        validate_app_name(app)?;
        validate_account_name(account)?;
        let (account, name) = (account.to_owned(), app.to_owned());
        self.call(move |conn| {
            let tx = write_tx(conn)?;
            let account_id = account_id(&tx, &account)?;
            let created_at = now();
            tx.execute(
                "INSERT INTO apps (account_id, name, created_at) VALUES (?1, ?2, ?3)",
                params![account_id, name, created_at],
            )
            .map_err(|e| conflict_or_backend(e, || format!("app '{name}.{account}'")))?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(App {
                id,
                name,
                account,
                created_at,
            })
        })
        .await
    }

    async fn list_apps(&self, account: Option<&str>) -> StoreResult<Vec<App>> {
        let account = account.map(str::to_owned);
        self.call(move |conn| {
            let tx = conn.transaction()?;
            if let Some(account) = &account {
                account_id(&tx, account)?;
            }
            let apps = {
                let mut stmt = tx.prepare_cached(
                    "SELECT ap.id, ap.name, ac.name, ap.created_at FROM apps ap \
                     JOIN accounts ac ON ac.id = ap.account_id \
                     WHERE ?1 IS NULL OR ac.name = ?1 ORDER BY ap.id",
                )?;
                let rows = stmt.query_map([&account], |r| {
                    Ok(App {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        account: r.get(2)?,
                        created_at: r.get(3)?,
                    })
                })?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            tx.finish()?;
            Ok(apps)
        })
        .await
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        validate_user_ref(&new.name)?;
        validate_display_name(&new.display_name)?;
        validate_password(&new.password)?;
        let NewUser {
            name,
            display_name,
            password,
        } = new;
        let (md5_digest, sha256_digest) = password_digests(&name.user, &password);
        drop(password);
        self.call(move |conn| {
            let tx = write_tx(conn)?;
            let app_id = app_id(&tx, &name.account, &name.app)?;
            let created_at = now();
            tx.execute(
                "INSERT INTO users (app_id, name, display_name, md5_digest, sha256_digest, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    app_id,
                    name.user,
                    display_name,
                    md5_digest,
                    sha256_digest,
                    created_at
                ],
            )
            .map_err(|e| conflict_or_backend(e, || format!("user '{}'", name.im_name())))?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(User {
                id,
                name,
                display_name,
                md5_digest,
                sha256_digest,
                custom_data: Value::Object(Default::default()),
                private_custom_data: Value::Object(Default::default()),
                deleted: false,
                created_at,
            })
        })
        .await
    }

    async fn user_by_name(&self, name: &UserRef) -> StoreResult<Option<User>> {
        let name = name.clone();
        self.call(move |conn| {
            let sql = format!("{USER_SELECT} WHERE u.name = ?1 AND ap.name = ?2 AND ac.name = ?3");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([&name.user, &name.app, &name.account], user_from_row)
                .optional()?)
        })
        .await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.call(move |conn| {
            let sql = format!("{USER_SELECT} WHERE u.id = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([id], user_from_row)
                .optional()?)
        })
        .await
    }

    async fn list_users(&self, app: Option<&str>, account: Option<&str>) -> StoreResult<Vec<User>> {
        let app = app.map(str::to_owned);
        let account = account.map(str::to_owned);
        self.call(move |conn| {
            let tx = conn.transaction()?;
            // A filter naming nothing is most likely a typo: say so instead of listing nothing.
            match (&app, &account) {
                (Some(app), Some(account)) => {
                    app_id(&tx, account, app)?;
                }
                (None, Some(account)) => {
                    account_id(&tx, account)?;
                }
                (Some(app), None) => {
                    let exists: bool = tx.query_row(
                        "SELECT EXISTS (SELECT 1 FROM apps WHERE name = ?1)",
                        [app],
                        |r| r.get(0),
                    )?;
                    if !exists {
                        return Err(StoreError::NotFound(format!("app '{app}'")));
                    }
                }
                (None, None) => {}
            }
            let users = {
                let sql = format!(
                    "{USER_SELECT} WHERE (?1 IS NULL OR ap.name = ?1) \
                     AND (?2 IS NULL OR ac.name = ?2) ORDER BY u.id"
                );
                let mut stmt = tx.prepare_cached(&sql)?;
                let rows = stmt.query_map([&app, &account], user_from_row)?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            tx.finish()?;
            Ok(users)
        })
        .await
    }

    async fn set_password(&self, name: &UserRef, password: &str) -> StoreResult<()> {
        validate_password(password)?;
        let name = name.clone();
        let (md5_digest, sha256_digest) = password_digests(&name.user, password);
        self.call(move |conn| {
            let tx = write_tx(conn)?;
            let id = live_user_id(&tx, &name)?;
            tx.execute(
                "UPDATE users SET md5_digest = ?1, sha256_digest = ?2 WHERE id = ?3",
                params![md5_digest, sha256_digest, id],
            )?;
            revoke_all(&tx, id)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn set_display_name(&self, name: &UserRef, display_name: &str) -> StoreResult<()> {
        validate_display_name(display_name)?;
        let name = name.clone();
        let display_name = display_name.to_owned();
        self.call(move |conn| {
            let tx = write_tx(conn)?;
            let id = live_user_id(&tx, &name)?;
            tx.execute(
                "UPDATE users SET display_name = ?1 WHERE id = ?2",
                params![display_name, id],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn delete_user(&self, name: &UserRef) -> StoreResult<()> {
        let name = name.clone();
        self.call(move |conn| {
            let tx = write_tx(conn)?;
            let (id, _) = find_user_id(&tx, &name)?
                .ok_or_else(|| StoreError::NotFound(format!("user '{}'", name.im_name())))?;
            tx.execute("UPDATE users SET deleted = 1 WHERE id = ?1", [id])?;
            revoke_all(&tx, id)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn insert_token(&self, hash: &str, row: TokenRow) -> StoreResult<()> {
        let hash = hash.to_owned();
        self.call(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO tokens (hash, user_id, kind, expires_at, device_token) \
                     SELECT ?1, id, ?3, ?4, ?5 FROM users WHERE id = ?2 AND deleted = 0",
                )?
                .execute(params![
                    hash,
                    row.user_id,
                    kind_to_sql(row.kind),
                    row.expires_at,
                    row.device_token
                ])
                .map_err(|e| conflict_or_backend(e, || "token".to_owned()))?;
            if inserted == 0 {
                return Err(StoreError::NotFound(format!("user id {}", row.user_id)));
            }
            Ok(())
        })
        .await
    }

    async fn find_token(&self, hash: &str) -> StoreResult<Option<TokenRow>> {
        let hash = hash.to_owned();
        self.call(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT user_id, kind, expires_at, device_token FROM tokens WHERE hash = ?1",
                )?
                .query_row([hash], token_from_row)
                .optional()?)
        })
        .await
    }

    async fn take_token(&self, hash: &str) -> StoreResult<Option<TokenRow>> {
        let hash = hash.to_owned();
        self.call(move |conn| {
            Ok(conn
                .prepare_cached(
                    "DELETE FROM tokens WHERE hash = ?1 \
                     RETURNING user_id, kind, expires_at, device_token",
                )?
                .query_row([hash], token_from_row)
                .optional()?)
        })
        .await
    }

    async fn revoke_tokens(&self, user_id: i64) -> StoreResult<()> {
        self.call(move |conn| {
            conn.execute("DELETE FROM tokens WHERE user_id = ?1", [user_id])?;
            Ok(())
        })
        .await
    }

    async fn put_one_time_key(&self, user_id: i64, key: &str, expires_at: i64) -> StoreResult<()> {
        let key = key.to_owned();
        self.call(move |conn| {
            let stored = conn
                .prepare_cached(
                    "INSERT INTO one_time_keys (user_id, key, expires_at) \
                     SELECT id, ?2, ?3 FROM users WHERE id = ?1 AND deleted = 0 \
                     ON CONFLICT (user_id) DO UPDATE \
                     SET key = excluded.key, expires_at = excluded.expires_at",
                )?
                .execute(params![user_id, key, expires_at])?;
            if stored == 0 {
                return Err(StoreError::NotFound(format!("user id {user_id}")));
            }
            Ok(())
        })
        .await
    }

    async fn take_one_time_key(&self, user_id: i64) -> StoreResult<Option<(String, i64)>> {
        self.call(move |conn| {
            Ok(conn
                .prepare_cached(
                    "DELETE FROM one_time_keys WHERE user_id = ?1 RETURNING key, expires_at",
                )?
                .query_row([user_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order() {
        for (index, (file, _)) in MIGRATIONS.iter().enumerate() {
            assert!(
                file.starts_with(&format!("{:04}_", index + 1)),
                "migration {file} is out of order"
            );
        }
    }

    #[test]
    fn digests_match_the_protocol_documentation() {
        let (md5, sha256) = password_digests("user1", "secret");
        assert_eq!(md5, "4e89e865d6dd680d0e499ed685e83cef");
        assert_eq!(
            sha256,
            "2ab0257e31a5d03b0fcf66b0d032548b5d72a7be7e09209516f963831b05fa99"
        );
    }
}
