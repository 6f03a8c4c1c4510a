//! Storage behind a small interface of the server's own.
//!
//! The server talks to storage only through [`Store`]. The embedded default is SQLite
//! ([`sqlite::SqliteStore`]: one real file, WAL, migrations from `server/migrations/`);
//! PostgreSQL joins later as a second implementation for multi-node deployments.
//!
//! Secrets: passwords are never stored. A user row keeps the two digests the wire protocol needs
//! (`md5("user:voximplant.com:password")` and its SHA-256 twin). They are **password-equivalent**:
//! whoever reads them can log in as that user, so protect the database file like a password file.
//! Access/refresh tokens are stored as SHA-256 hashes only.

pub mod sqlite;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

/// A user's fully qualified identity: `user@app.account`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct UserRef {
    pub user: String,
    pub app: String,
    pub account: String,
}

impl UserRef {
    /// `user@app.account` — the messaging / `getMe()` form.
    pub fn im_name(&self) -> String {
        format!("{}@{}.{}", self.user, self.app, self.account)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    /// Name of the parent account when this is a child account.
    pub parent: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct App {
    pub id: i64,
    pub name: String,
    pub account: String,
    pub created_at: i64,
}

/// A user row. `id` is the integer IM user id the messaging protocol uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: i64,
    pub name: UserRef,
    pub display_name: String,
    /// hex MD5 digest of `"{user}:voximplant.com:{password}"` — password-equivalent.
    #[serde(skip)]
    pub md5_digest: String,
    /// hex SHA-256 digest of the same string — password-equivalent.
    #[serde(skip)]
    pub sha256_digest: String,
    /// Always a JSON object.
    pub custom_data: Value,
    /// Always a JSON object; only ever shown to the user themself.
    #[serde(skip)]
    pub private_custom_data: Value,
    pub deleted: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: UserRef,
    pub display_name: String,
    pub password: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

/// A stored token (looked up by the SHA-256 hash of its secret value).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    pub user_id: i64,
    pub kind: TokenKind,
    /// UNIX seconds.
    pub expires_at: i64,
    pub device_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the server needs from storage. All methods are atomic.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip to the backend (for health endpoints). The default reports healthy.
    async fn health_check(&self) -> StoreResult<()> {
        Ok(())
    }

    // --- accounts and applications -------------------------------------------------------
    /// Create an account, optionally as a child of `parent` (which must exist).
    async fn create_account(&self, name: &str, parent: Option<&str>) -> StoreResult<Account>;
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    async fn create_app(&self, account: &str, app: &str) -> StoreResult<App>;
    async fn list_apps(&self, account: Option<&str>) -> StoreResult<Vec<App>>;

    // --- users ---------------------------------------------------------------------------
    /// Create a user (app and account must exist). Digests are computed here from the password,
    /// which is then forgotten.
    async fn create_user(&self, new: NewUser) -> StoreResult<User>;
    /// Look a user up by name, deleted users included (callers check `deleted`).
    async fn user_by_name(&self, name: &UserRef) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    async fn list_users(&self, app: Option<&str>, account: Option<&str>) -> StoreResult<Vec<User>>;
    /// Replace the password digests of a live user and revoke all of its tokens and one-time
    /// keys (a password is changed because it leaked). `NotFound` for a missing or deleted user.
    async fn set_password(&self, name: &UserRef, password: &str) -> StoreResult<()>;
    /// `NotFound` for a missing or deleted user.
    async fn set_display_name(&self, name: &UserRef, display_name: &str) -> StoreResult<()>;
    /// Mark a user deleted (the row and its IM id stay, as the protocol reports deleted users)
    /// and revoke all of its tokens and one-time keys. Deleting a deleted user succeeds.
    async fn delete_user(&self, name: &UserRef) -> StoreResult<()>;

    // --- tokens --------------------------------------------------------------------------
    /// Store a token by the SHA-256 hex hash of its value. `NotFound` when the user is missing
    /// or deleted (so a login racing `delete_user` leaves no live token); `Conflict` for a taken
    /// hash.
    async fn insert_token(&self, hash: &str, row: TokenRow) -> StoreResult<()>;
    /// Find an access or refresh token by hash (expired ones too; callers check `expires_at`).
    async fn find_token(&self, hash: &str) -> StoreResult<Option<TokenRow>>;
    /// Remove a token and return it, atomically: a refresh token works once even when two
    /// requests race.
    async fn take_token(&self, hash: &str) -> StoreResult<Option<TokenRow>>;
    /// Remove every token of a user.
    async fn revoke_tokens(&self, user_id: i64) -> StoreResult<()>;

    // --- one-time login keys --------------------------------------------------------------
    /// Store the user's one-time key; a newer key replaces (voids) the older one. `NotFound`
    /// when the user is missing or deleted.
    async fn put_one_time_key(&self, user_id: i64, key: &str, expires_at: i64) -> StoreResult<()>;
    /// Remove and return the user's current key `(key, expires_at)`, atomically (single use).
    async fn take_one_time_key(&self, user_id: i64) -> StoreResult<Option<(String, i64)>>;
}
