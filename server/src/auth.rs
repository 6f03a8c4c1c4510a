//! Login: password digests (MD5 / SHA-256), one-time keys, access tokens, token refresh, and
//! rate limiting of failed attempts.
//!
//! Every outcome maps to the login codes the Web SDK knows: 302 (one-time key issued),
//! 401 (wrong password / wrong or used one-time key / locked out), 404 (unknown or deleted user,
//! malformed login name), 491 (invalid state), 500 (storage failure), 701 (token invalid,
//! expired or already used).

use crate::config::Config;
use crate::store::{Store, TokenKind, TokenRow, User, UserRef};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vox_protocol::auth::CredentialType;

/// Login failure codes (the numbers the Web SDK's `AuthResult.code` carries).
pub mod code {
    pub const ONE_TIME_KEY: u32 = 302;
    pub const INVALID_PASSWORD: u32 = 401;
    pub const INVALID_USERNAME: u32 = 404;
    pub const INVALID_STATE: u32 = 491;
    pub const INTERNAL: u32 = 500;
    pub const TOKEN_EXPIRED: u32 = 701;
}

/// What a client presents to log in.
#[derive(Clone)]
pub enum Credential {
    /// Hex digest of `user:voximplant.com:password` with the given algorithm.
    Password {
        digest: String,
        kind: CredentialType,
    },
    /// An access token from an earlier `loginSuccessful` or refresh.
    AccessToken(String),
    /// `md5(key|md5digest)` for the key issued by `loginGenerateOneTimeKey`.
    OneTimeKey { hash: String },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.write_str(match self {
            Credential::Password { .. } => "Password(..)",
            Credential::AccessToken(_) => "AccessToken(..)",
            Credential::OneTimeKey { .. } => "OneTimeKey(..)",
        })
    }
}

/// A freshly issued token pair; expiries are relative seconds, as the SDKs expect.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub access_expire: u64,
    pub refresh_token: String,
    pub refresh_expire: u64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tokens(access {}s, refresh {}s)",
            self.access_expire, self.refresh_expire
        )
    }
}

#[derive(Debug)]
pub struct LoginOk {
    pub user: User,
    /// New tokens (password and one-time-key logins); `None` for a token login, whose token stays
    /// valid until it expires.
    pub tokens: Option<Tokens>,
}

pub struct AuthService {
    store: Arc<dyn Store>,
    domain: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
    otk_ttl: Duration,
    limiter: Mutex<FailureLimiter>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Hex SHA-256 of a token value: tokens are stored only as this hash.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_hex(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    format!("{prefix}{}", hex::encode(buf))
}

/// Constant-time comparison of two ASCII hex strings (case-insensitive).
fn digest_eq(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    }) == 0
}

impl AuthService {
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Self {
        AuthService {
            store,
            domain: config.domain.clone(),
            access_ttl: config.access_token_ttl,
            refresh_ttl: config.refresh_token_ttl,
            otk_ttl: config.one_time_key_ttl,
            limiter: Mutex::new(FailureLimiter::new(
                config.login_failures_per_user,
                config.login_failures_per_peer,
                config.login_lockout,
            )),
        }
    }

    /// Parse a full login name (`user@app.account.<domain>`, or without the domain).
    pub fn parse_login_name(&self, full: &str) -> Option<UserRef> {
        let name = vox_protocol::auth::parse_login_name(full, &self.domain).ok()?;
        Some(UserRef {
            user: name.user,
            app: name.app,
            account: name.account,
        })
    }

    async fn active_user(&self, name: &UserRef) -> Result<User, u32> {
        match self.store.user_by_name(name).await {
            Ok(Some(u)) if !u.deleted => Ok(u),
            Ok(_) => Err(code::INVALID_USERNAME),
            Err(e) => {
                tracing::error!(error = %e, "user lookup failed");
                Err(code::INTERNAL)
            }
        }
    }

    fn locked(&self, peer: IpAddr, who: &str) -> bool {
        self.limiter
            .lock()
            .unwrap()
            .locked(peer, who, Instant::now())
    }

    fn failed(&self, peer: IpAddr, who: &str) {
        self.limiter
            .lock()
            .unwrap()
            .record(peer, who, Instant::now());
    }

    /// Log in with any credential.
    pub async fn login(
        &self,
        peer: IpAddr,
        login_name: &str,
        cred: Credential,
    ) -> Result<LoginOk, u32> {
        let Some(name) = self.parse_login_name(login_name) else {
            return Err(code::INVALID_USERNAME);
        };
        let who = name.im_name();
        if self.locked(peer, &who) {
            tracing::warn!(user = %who, %peer, "login refused: too many failed attempts");
            return Err(code::INVALID_PASSWORD);
        }
        let result = self.check(&name, cred).await;
        match &result {
            Ok(_) => tracing::info!(user = %who, %peer, "login succeeded"),
            Err(c) if *c != code::INTERNAL => {
                self.failed(peer, &who);
                tracing::info!(user = %who, %peer, code = c, "login failed");
            }
            Err(_) => {}
        }
        result
    }

    async fn check(&self, name: &UserRef, cred: Credential) -> Result<LoginOk, u32> {
        let user = self.active_user(name).await?;
        match cred {
            Credential::Password { digest, kind } => {
                let stored = match kind {
                    CredentialType::Md5 => &user.md5_digest,
                    CredentialType::Sha256 => &user.sha256_digest,
                };
                if !digest_eq(stored, &digest) {
                    return Err(code::INVALID_PASSWORD);
                }
                let tokens = self.issue_tokens(user.id, None).await?;
                Ok(LoginOk {
                    user,
                    tokens: Some(tokens),
                })
            }
            Credential::OneTimeKey { hash } => {
                let key = self.store.take_one_time_key(user.id).await.map_err(|e| {
                    tracing::error!(error = %e, "one-time key lookup failed");
                    code::INTERNAL
                })?;
                let Some((key, expires_at)) = key else {
                    return Err(code::INVALID_PASSWORD);
                };
                if expires_at <= now_secs() {
                    return Err(code::INVALID_PASSWORD);
                }
                let expected =
                    vox_protocol::auth::one_time_key_hash_from_digest(&key, &user.md5_digest);
                if !digest_eq(&expected, &hash) {
                    return Err(code::INVALID_PASSWORD);
                }
                let tokens = self.issue_tokens(user.id, None).await?;
                Ok(LoginOk {
                    user,
                    tokens: Some(tokens),
                })
            }
            Credential::AccessToken(token) => {
                if !token.starts_with("at-") {
                    return Err(code::TOKEN_EXPIRED);
                }
                let row = self
                    .store
                    .find_token(&token_hash(&token))
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "token lookup failed");
                        code::INTERNAL
                    })?;
                match row {
                    Some(r)
                        if r.kind == TokenKind::Access
                            && r.user_id == user.id
                            && r.expires_at > now_secs() =>
                    {
                        Ok(LoginOk { user, tokens: None })
                    }
                    _ => Err(code::TOKEN_EXPIRED),
                }
            }
        }
    }

    async fn issue_tokens(
        &self,
        user_id: i64,
        device_token: Option<String>,
    ) -> Result<Tokens, u32> {
        let now = now_secs();
        let tokens = Tokens {
            access_token: random_hex("at-", 24),
            access_expire: self.access_ttl.as_secs(),
            refresh_token: random_hex("rt-", 24),
            refresh_expire: self.refresh_ttl.as_secs(),
        };
        let store_err = |e| {
            tracing::error!(error = %e, "storing a token failed");
            code::INTERNAL
        };
        self.store
            .insert_token(
                &token_hash(&tokens.access_token),
                TokenRow {
                    user_id,
                    kind: TokenKind::Access,
                    expires_at: now + tokens.access_expire as i64,
                    device_token: device_token.clone(),
                },
            )
            .await
            .map_err(store_err)?;
        self.store
            .insert_token(
                &token_hash(&tokens.refresh_token),
                TokenRow {
                    user_id,
                    kind: TokenKind::Refresh,
                    expires_at: now + tokens.refresh_expire as i64,
                    device_token,
                },
            )
            .await
            .map_err(store_err)?;
        Ok(tokens)
    }

    /// `loginGenerateOneTimeKey`: a new key for the user, voiding the previous one.
    pub async fn generate_one_time_key(
        &self,
        peer: IpAddr,
        login_name: &str,
    ) -> Result<String, u32> {
        let Some(name) = self.parse_login_name(login_name) else {
            return Err(code::INVALID_USERNAME);
        };
        let who = name.im_name();
        if self.locked(peer, &who) {
            return Err(code::INVALID_PASSWORD);
        }
        let user = match self.active_user(&name).await {
            Ok(u) => u,
            Err(c) => {
                if c != code::INTERNAL {
                    self.failed(peer, &who);
                }
                return Err(c);
            }
        };
        let key = random_hex("", 16);
        let expires = now_secs() + self.otk_ttl.as_secs() as i64;
        self.store
            .put_one_time_key(user.id, &key, expires)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "storing a one-time key failed");
                code::INTERNAL
            })?;
        Ok(key)
    }

    /// `refreshOauthToken`: consume the refresh token (single use) and issue a new pair.
    pub async fn refresh(
        &self,
        peer: IpAddr,
        login_name: &str,
        refresh_token: &str,
        device_token: Option<String>,
    ) -> Result<Tokens, u32> {
        let Some(name) = self.parse_login_name(login_name) else {
            return Err(code::TOKEN_EXPIRED);
        };
        let who = name.im_name();
        if self.locked(peer, &who) {
            return Err(code::TOKEN_EXPIRED);
        }
        let outcome = async {
            if !refresh_token.starts_with("rt-") {
                return Err(code::TOKEN_EXPIRED);
            }
            let user = self.active_user(&name).await.map_err(|c| {
                if c == code::INTERNAL {
                    c
                } else {
                    code::TOKEN_EXPIRED
                }
            })?;
            let row = self
                .store
                .take_token(&token_hash(refresh_token))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "token lookup failed");
                    code::INTERNAL
                })?;
            match row {
                Some(r)
                    if r.kind == TokenKind::Refresh
                        && r.user_id == user.id
                        && r.expires_at > now_secs() =>
                {
                    self.issue_tokens(user.id, device_token.or(r.device_token))
                        .await
                }
                _ => Err(code::TOKEN_EXPIRED),
            }
        }
        .await;
        if let Err(c) = outcome
            && c != code::INTERNAL
        {
            self.failed(peer, &who);
        }
        outcome
    }
}

/// Counts failed attempts per user name and per peer address in a sliding window. While either
/// count is at its limit, further attempts are refused without checking the credential, so a
/// password cannot be guessed at line speed. Memory is bounded: old entries are pruned, and the
/// table is cleared of stale keys when it grows past `MAX_KEYS`.
pub struct FailureLimiter {
    per_user: u32,
    per_peer: u32,
    window: Duration,
    failures: HashMap<String, VecDeque<Instant>>,
}

const MAX_KEYS: usize = 100_000;

impl FailureLimiter {
    pub fn new(per_user: u32, per_peer: u32, window: Duration) -> Self {
        FailureLimiter {
            per_user,
            per_peer,
            window,
            failures: HashMap::new(),
        }
    }

    fn count(&mut self, key: &str, now: Instant) -> usize {
        let window = self.window;
        match self.failures.get_mut(key) {
            Some(q) => {
                while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                    q.pop_front();
                }
                q.len()
            }
            None => 0,
        }
    }

    pub fn locked(&mut self, peer: IpAddr, user: &str, now: Instant) -> bool {
        self.count(&format!("u:{user}"), now) >= self.per_user as usize
            || self.count(&format!("p:{peer}"), now) >= self.per_peer as usize
    }

    pub fn record(&mut self, peer: IpAddr, user: &str, now: Instant) {
        if self.failures.len() >= MAX_KEYS {
            let window = self.window;
            self.failures
                .retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        for (key, cap) in [
            (format!("u:{user}"), self.per_user),
            (format!("p:{peer}"), self.per_peer),
        ] {
            let q = self.failures.entry(key).or_default();
            q.push_back(now);
            while q.len() > cap as usize {
                q.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_locks_and_unlocks() {
        let mut l = FailureLimiter::new(3, 5, Duration::from_secs(60));
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(!l.locked(ip, "a@b.c", t0));
            l.record(ip, "a@b.c", t0);
        }
        assert!(l.locked(ip, "a@b.c", t0));
        assert!(!l.locked(ip, "other@b.c", t0), "per-user lock is per user");
        l.record(ip, "x@b.c", t0);
        l.record(ip, "y@b.c", t0);
        assert!(l.locked(ip, "z@b.c", t0), "per-peer lock covers every user");
        assert!(!l.locked("10.0.0.1".parse().unwrap(), "z@b.c", t0));
        assert!(!l.locked(ip, "a@b.c", t0 + Duration::from_secs(61)));
    }

    #[test]
    fn digest_compare() {
        assert!(digest_eq("abCD", "ABcd"));
        assert!(!digest_eq("abcd", "abce"));
        assert!(!digest_eq("abc", "abcd"));
    }
}
