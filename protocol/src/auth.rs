//! Login names, password digests and the one-time-key hash.
//!
//! The Web SDK never sends a password. It sends a hex digest of
//! `"<user>:voximplant.com:<password>"`, where `<user>` is the login name cut at its first `@`
//! (so `user1@app.acc.voximplant.com` digests as `user1`). The middle part is the fixed string
//! `voximplant.com`, whatever domain the server runs under. MD5 is the default; SHA-256 of the
//! same string is sent with `credentialType: "sha256"` when the SDK's feature flag is on.
//!
//! A one-time-key login sends `md5_hex(key + "|" + md5_digest)`: the application computes it from
//! the key the server handed out in `loginFailed [302, key]`.
//!
//! A full login name is `user@app.account.<domain>`; messaging identifies the same user as
//! `user@app.account` ([`LoginName::im_name`], what the SDK's `getMe()` returns).

use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The domain suffix of login names when the deployment does not configure another one.
pub const DEFAULT_DOMAIN: &str = "voximplant.com";

/// The fixed realm in the digest input `"<user>:voximplant.com:<password>"`. It does not follow
/// the deployment's domain: the SDK hard-codes it.
pub const DIGEST_REALM: &str = "voximplant.com";

/// Longest login name accepted by [`parse_login_name`], in bytes.
pub const MAX_LOGIN_NAME_LEN: usize = 128;

/// Which digest a password login carries (`credentialType` in the login options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialType {
    /// `md5_hex(...)`, 32 hex digits. The SDK's default.
    #[default]
    Md5,
    /// `sha256_hex(...)`, 64 hex digits.
    Sha256,
}

impl CredentialType {
    /// The wire name: `"md5"` or `"sha256"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialType::Md5 => "md5",
            CredentialType::Sha256 => "sha256",
        }
    }

    /// Parse a wire name (exact, lowercase, as the SDK sends it).
    pub fn from_wire(name: &str) -> Option<Self> {
        match name {
            "md5" => Some(CredentialType::Md5),
            "sha256" => Some(CredentialType::Sha256),
            _ => None,
        }
    }

    /// Number of hex digits in a digest of this kind.
    pub fn hex_len(self) -> usize {
        match self {
            CredentialType::Md5 => 32,
            CredentialType::Sha256 => 64,
        }
    }

    /// The digest of `user`/`password` with this algorithm.
    pub fn digest(self, user: &str, password: &str) -> String {
        match self {
            CredentialType::Md5 => password_digest_md5(user, password),
            CredentialType::Sha256 => password_digest_sha256(user, password),
        }
    }
}

impl fmt::Display for CredentialType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CredentialType {
    type Err = UnknownCredentialType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CredentialType::from_wire(s).ok_or_else(|| UnknownCredentialType(s.to_owned()))
    }
}

/// A `credentialType` value other than `md5` / `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown credential type {0:?}")]
pub struct UnknownCredentialType(pub String);

/// The part of a login name that goes into the digest: everything before the first `@`
/// (the whole name if there is none), as the SDK computes it.
pub fn digest_user(login: &str) -> &str {
    login.split_once('@').map_or(login, |(user, _)| user)
}

fn digest_input(user: &str, password: &str) -> String {
    format!("{}:{DIGEST_REALM}:{password}", digest_user(user))
}

/// `md5_hex("<user>:voximplant.com:<password>")`. `user` may be the bare user name or the full
/// login name (it is cut at the first `@`).
pub fn password_digest_md5(user: &str, password: &str) -> String {
    hex::encode(Md5::digest(digest_input(user, password).as_bytes()))
}

/// `sha256_hex("<user>:voximplant.com:<password>")`, with `user` cut as for
/// [`password_digest_md5`].
pub fn password_digest_sha256(user: &str, password: &str) -> String {
    hex::encode(Sha256::digest(digest_input(user, password).as_bytes()))
}

/// The value `loginUsingOneTimeKey` carries: `md5_hex(key + "|" + md5_digest(user, password))`.
pub fn one_time_key_hash(key: &str, user: &str, password: &str) -> String {
    one_time_key_hash_from_digest(key, &password_digest_md5(user, password))
}

/// [`one_time_key_hash`] from a stored MD5 password digest (a server keeps only the digest).
/// The digest is used as given, so pass it in lowercase hex as [`password_digest_md5`] makes it.
pub fn one_time_key_hash_from_digest(key: &str, md5_digest: &str) -> String {
    let mut h = Md5::new();
    h.update(key.as_bytes());
    h.update(b"|");
    h.update(md5_digest.as_bytes());
    hex::encode(h.finalize())
}

/// What the Web SDK's `getMe()` makes of a login name: the part after `@` is cut to its first two
/// dot-separated labels (`user1@app.acc.voximplant.com` → `user1@app.acc`). A name without `@`
/// comes back unchanged. No validation: use [`parse_login_name`] for that.
pub fn sdk_user_name(login: &str) -> String {
    match login.split_once('@') {
        None => login.to_owned(),
        Some((user, rest)) => {
            // The SDK splits on every '@' and cuts only the second piece; mirror that.
            let (host, tail) = match rest.split_once('@') {
                Some((host, tail)) => (host, Some(tail)),
                None => (rest, None),
            };
            let short: Vec<&str> = host.split('.').take(2).collect();
            let mut out = format!("{user}@{}", short.join("."));
            if let Some(tail) = tail {
                out.push('@');
                out.push_str(tail);
            }
            out
        }
    }
}

/// A login name split into its parts: `user@app.account[.<domain>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginName {
    /// The user name (before `@`).
    pub user: String,
    /// The application name (first label after `@`).
    pub app: String,
    /// The account name (second label after `@`).
    pub account: String,
}

impl LoginName {
    /// `user@app.account`: the messaging user name (`user_name` on the wire, `getMe()` in the SDK).
    pub fn im_name(&self) -> String {
        format!("{}@{}.{}", self.user, self.app, self.account)
    }

    /// `user@app.account.<domain>`: the name a client logs in with.
    pub fn full_name(&self, domain_suffix: &str) -> String {
        let domain = domain_suffix.trim_start_matches('.');
        if domain.is_empty() {
            self.im_name()
        } else {
            format!("{}.{domain}", self.im_name())
        }
    }
}

impl fmt::Display for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}.{}", self.user, self.app, self.account)
    }
}

/// Which part of a login name a [`LoginNameError::EmptyPart`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginNamePart {
    User,
    App,
    Account,
}

impl fmt::Display for LoginNamePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoginNamePart::User => "user",
            LoginNamePart::App => "application",
            LoginNamePart::Account => "account",
        })
    }
}

/// Why a login name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginNameError {
    #[error("login name is empty")]
    Empty,
    #[error("login name is {len} bytes long; at most {MAX_LOGIN_NAME_LEN} are allowed")]
    TooLong { len: usize },
    #[error("login name contains the forbidden character {0:?}")]
    ForbiddenChar(char),
    #[error("login name has no '@'")]
    MissingAt,
    #[error("login name has an empty {0} part")]
    EmptyPart(LoginNamePart),
    /// The part after `@` is neither `app.account` nor `app.account.<domain>`.
    #[error("login name host {host:?} is not `<app>.<account>` followed by the domain {domain:?}")]
    BadHost { host: String, domain: String },
}

/// Split `user@app.account.<domain_suffix>` (or `user@app.account`) into its parts.
///
/// The domain suffix is compared without regard to ASCII case; an empty suffix accepts only the
/// short form. Rejected: empty names and parts, names over [`MAX_LOGIN_NAME_LEN`] bytes,
/// whitespace, control characters, a second `@`, and any other host shape (a wrong domain, extra
/// labels). Case is otherwise kept as given.
pub fn parse_login_name(full: &str, domain_suffix: &str) -> Result<LoginName, LoginNameError> {
    if full.is_empty() {
        return Err(LoginNameError::Empty);
    }
    if full.len() > MAX_LOGIN_NAME_LEN {
        return Err(LoginNameError::TooLong { len: full.len() });
    }
    if let Some(c) = full.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(LoginNameError::ForbiddenChar(c));
    }
    let (user, host) = full.split_once('@').ok_or(LoginNameError::MissingAt)?;
    if host.contains('@') {
        return Err(LoginNameError::ForbiddenChar('@'));
    }
    if user.is_empty() {
        return Err(LoginNameError::EmptyPart(LoginNamePart::User));
    }
    let domain = domain_suffix.trim_start_matches('.');
    let bad_host = || LoginNameError::BadHost {
        host: host.to_owned(),
        domain: domain.to_owned(),
    };
    let short = strip_domain(host, domain).unwrap_or(host);
    let (app, account) = short.split_once('.').ok_or_else(bad_host)?;
    if account.contains('.') {
        return Err(bad_host());
    }
    if app.is_empty() {
        return Err(LoginNameError::EmptyPart(LoginNamePart::App));
    }
    if account.is_empty() {
        return Err(LoginNameError::EmptyPart(LoginNamePart::Account));
    }
    Ok(LoginName {
        user: user.to_owned(),
        app: app.to_owned(),
        account: account.to_owned(),
    })
}

/// `host` without a trailing `.<domain>` (ASCII case-insensitive), if it has one.
fn strip_domain<'a>(host: &'a str, domain: &str) -> Option<&'a str> {
    if domain.is_empty() || host.len() <= domain.len() + 1 {
        return None;
    }
    let cut = host.len() - domain.len();
    // `cut - 1` is the byte before the suffix; it must be an ASCII '.', so both indices are
    // char boundaries whenever the check below passes.
    if host.as_bytes()[cut - 1] != b'.' || !host.is_char_boundary(cut) {
        return None;
    }
    host[cut..]
        .eq_ignore_ascii_case(domain)
        .then(|| &host[..cut - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_digest_known_value() {
        assert_eq!(
            password_digest_md5("user1", "secret"),
            "4e89e865d6dd680d0e499ed685e83cef"
        );
        // The full login name digests the same: it is cut at the first '@'.
        assert_eq!(
            password_digest_md5("user1@app.acc.voximplant.com", "secret"),
            "4e89e865d6dd680d0e499ed685e83cef"
        );
    }

    #[test]
    fn sha256_digest_known_value() {
        assert_eq!(
            password_digest_sha256("user1@app.acc.voximplant.com", "secret"),
            "2ab0257e31a5d03b0fcf66b0d032548b5d72a7be7e09209516f963831b05fa99"
        );
        assert_eq!(
            CredentialType::Sha256.digest("user1", "secret"),
            password_digest_sha256("user1", "secret")
        );
        assert_eq!(
            CredentialType::Md5.digest("user1", "secret").len(),
            CredentialType::Md5.hex_len()
        );
    }

    #[test]
    fn one_time_key_hash_matches_formula() {
        let digest = password_digest_md5("user1", "secret");
        let manual = hex::encode(Md5::digest(format!("otk-1|{digest}").as_bytes()));
        assert_eq!(
            one_time_key_hash("otk-1", "user1@app.acc.voximplant.com", "secret"),
            manual
        );
        assert_eq!(one_time_key_hash_from_digest("otk-1", &digest), manual);
    }

    #[test]
    fn credential_type_wire_names() {
        assert_eq!(
            serde_json::to_string(&CredentialType::Md5).unwrap(),
            r#""md5""#
        );
        assert_eq!(
            serde_json::to_string(&CredentialType::Sha256).unwrap(),
            r#""sha256""#
        );
        assert_eq!(
            "sha256".parse::<CredentialType>().unwrap(),
            CredentialType::Sha256
        );
        assert!("SHA256".parse::<CredentialType>().is_err());
        assert_eq!(
            serde_json::from_str::<CredentialType>(r#""md5""#).unwrap(),
            CredentialType::Md5
        );
    }

    #[test]
    fn parses_login_names() {
        let n = parse_login_name("user1@app.acc.voximplant.com", DEFAULT_DOMAIN).unwrap();
        assert_eq!(
            (n.user.as_str(), n.app.as_str(), n.account.as_str()),
            ("user1", "app", "acc")
        );
        assert_eq!(n.im_name(), "user1@app.acc");
        assert_eq!(n.to_string(), "user1@app.acc");
        assert_eq!(n.full_name(DEFAULT_DOMAIN), "user1@app.acc.voximplant.com");
        // Short form, case-insensitive domain, custom domain, dots in the user name.
        assert_eq!(
            parse_login_name("user1@app.acc", DEFAULT_DOMAIN).unwrap(),
            n
        );
        assert_eq!(
            parse_login_name("user1@app.acc.VoxImplant.COM", DEFAULT_DOMAIN).unwrap(),
            n
        );
        let m = parse_login_name("john.doe@chat.acme.example.org", ".example.org").unwrap();
        assert_eq!(m.im_name(), "john.doe@chat.acme");
        assert_eq!(m.full_name("example.org"), "john.doe@chat.acme.example.org");
        assert_eq!(parse_login_name("a@b.c", "").unwrap().im_name(), "a@b.c");
    }

    #[test]
    fn rejects_bad_login_names() {
        use LoginNameError as E;
        let p = |s: &str| parse_login_name(s, DEFAULT_DOMAIN);
        assert_eq!(p(""), Err(E::Empty));
        assert_eq!(p("user1"), Err(E::MissingAt));
        assert_eq!(p("@app.acc"), Err(E::EmptyPart(LoginNamePart::User)));
        assert_eq!(p("u@.acc"), Err(E::EmptyPart(LoginNamePart::App)));
        assert_eq!(p("u@app."), Err(E::EmptyPart(LoginNamePart::Account)));
        assert_eq!(
            p("u@.acc.voximplant.com"),
            Err(E::EmptyPart(LoginNamePart::App))
        );
        assert_eq!(p("u ser@app.acc"), Err(E::ForbiddenChar(' ')));
        assert_eq!(p("user@app.acc\n"), Err(E::ForbiddenChar('\n')));
        assert_eq!(p("us\u{0}er@app.acc"), Err(E::ForbiddenChar('\u{0}')));
        assert_eq!(p("us\u{a0}er@app.acc"), Err(E::ForbiddenChar('\u{a0}')));
        assert_eq!(p("u@app@acc"), Err(E::ForbiddenChar('@')));
        assert!(matches!(p("u@app"), Err(E::BadHost { .. })));
        assert!(matches!(p("u@app.acc.other.com"), Err(E::BadHost { .. })));
        assert!(matches!(
            p("u@app.acc.xvoximplant.com"),
            Err(E::BadHost { .. })
        ));
        // Too short to carry the domain: read as the short form `app.account`.
        assert_eq!(p("u@voximplant.com").unwrap().im_name(), "u@voximplant.com");
        assert!(matches!(p("u@.voximplant.com"), Err(E::BadHost { .. })));
        assert!(matches!(
            parse_login_name("u@app.acc.voximplant.com", ""),
            Err(E::BadHost { .. })
        ));
        let long = format!("{}@app.acc", "u".repeat(MAX_LOGIN_NAME_LEN));
        assert_eq!(p(&long), Err(E::TooLong { len: long.len() }));
        let just_fits = format!("{}@app.acc", "u".repeat(MAX_LOGIN_NAME_LEN - 8));
        assert!(p(&just_fits).is_ok());
        // Multi-byte characters near the suffix must not panic.
        assert!(matches!(
            p("u@app.accé.voximplant.coé"),
            Err(E::BadHost { .. })
        ));
    }

    #[test]
    fn sdk_user_name_cuts_to_two_labels() {
        assert_eq!(
            sdk_user_name("user1@app.acc.voximplant.com"),
            "user1@app.acc"
        );
        assert_eq!(sdk_user_name("user1@app.acc"), "user1@app.acc");
        assert_eq!(sdk_user_name("user1@app"), "user1@app");
        assert_eq!(sdk_user_name("user1"), "user1");
        assert_eq!(sdk_user_name("a@b.c.d@e.f"), "a@b.c@e.f");
        assert_eq!(digest_user("a@b.c"), "a");
        assert_eq!(digest_user("abc"), "abc");
    }
}
