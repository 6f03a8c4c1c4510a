//! The `{name, params}` RPC payloads carried in `msg` frames: login in all its forms, token
//! refresh, pings, and the server's replies.
//!
//! A `msg` payload is either an RPC (`{"name":…,"params":[…]}`) or a messaging envelope (it has a
//! truthy `service`); [`payload_kind`] tells them apart the way the Web SDK does.
//!
//! * [`RpcCall`] is the untyped form. `params` may be absent on the wire (the SDK's `__ping` has
//!   none) and then reads as empty.
//! * [`ClientRpc`] is the typed view of every call the Web SDK sends (client → server);
//!   [`ServerRpc`] of every reply it reads (server → client). Both convert to and from
//!   [`RpcCall`], and `to_call` reproduces the SDK's frames exactly: the same params in the same
//!   order, and option objects with their keys in the SDK's order (the workspace enables
//!   `serde_json/preserve_order` for this).
//!
//! Secrets (digests, hashes, tokens) are left out of every `Debug` output in this module.

use crate::auth::CredentialType;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// RPC names as they appear on the wire.
pub mod names {
    /// C→S keep-alive, every 2 s; sent without `params`.
    pub const PING: &str = "__ping";
    /// S→C answer to a ping (the SDK ignores it).
    pub const PONG: &str = "__pong";
    /// S→C, first `msg` of every new connection; `connect()` resolves on it.
    pub const CREATE_CONNECTION: &str = "__createConnection";
    pub const LOGIN: &str = "login";
    pub const LOGIN_GENERATE_ONE_TIME_KEY: &str = "loginGenerateOneTimeKey";
    pub const LOGIN_USING_ONE_TIME_KEY: &str = "loginUsingOneTimeKey";
    pub const LOGIN_STAGE2: &str = "loginStage2";
    pub const REFRESH_OAUTH_TOKEN: &str = "refreshOauthToken";
    pub const LOGIN_SUCCESSFUL: &str = "loginSuccessful";
    pub const LOGIN_FAILED: &str = "loginFailed";
    pub const REFRESH_OAUTH_TOKEN_SUCCESSFUL: &str = "refreshOauthTokenSuccessful";
    pub const REFRESH_OAUTH_TOKEN_FAILED: &str = "refreshOauthTokenFailed";
}

/// Keys of the login options object that the SDK sets or that carry the credential.
pub mod option_keys {
    pub const CREDENTIAL_TYPE: &str = "credentialType";
    pub const ACCESS_TOKEN: &str = "accessToken";
    pub const RECEIVE_CALLS: &str = "receiveCalls";
    pub const SERVER_PRESENCE_CONTROL: &str = "serverPresenceControl";
    pub const DEVICE_TOKEN: &str = "deviceToken";
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a payload could not be read as an RPC, or as a particular RPC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    #[error("payload is not a valid RPC object: {0}")]
    Json(String),
    #[error("payload is neither an RPC (`name`) nor a messaging envelope (`service`)")]
    NotAPayload,
    #[error("unknown RPC {0:?}")]
    UnknownName(String),
    #[error("{name}: expected {expected} params, got {got}")]
    Arity {
        name: &'static str,
        expected: &'static str,
        got: usize,
    },
    #[error("{name}: param {index} must be {expected}")]
    ParamType {
        name: &'static str,
        index: usize,
        expected: &'static str,
    },
    #[error("{name}: param {index}: field {field:?} must be {expected}")]
    FieldType {
        name: &'static str,
        index: usize,
        field: &'static str,
        expected: &'static str,
    },
    #[error("{name}: unknown credentialType {value:?}")]
    UnknownCredentialType { name: &'static str, value: String },
}

// ---------------------------------------------------------------------------------------------
// Untyped call
// ---------------------------------------------------------------------------------------------

/// One RPC payload: `{"name": name, "params": [...]}`.
///
/// Encoding writes `params` always, even when empty (`__createConnection` sends `[]`), except
/// for a `__ping` without params, which the SDK sends as `{"name":"__ping"}`.
#[derive(Clone, PartialEq, Deserialize)]
pub struct RpcCall {
    pub name: String,
    #[serde(default)]
    pub params: Vec<Value>,
}

impl fmt::Debug for RpcCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Params of login calls and replies carry secrets: show only how many there are.
        f.debug_struct("RpcCall")
            .field("name", &self.name)
            .field("params", &format_args!("<{} values>", self.params.len()))
            .finish()
    }
}

impl Serialize for RpcCall {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let omit_params = self.params.is_empty() && self.name == names::PING;
        let mut m = s.serialize_map(Some(if omit_params { 1 } else { 2 }))?;
        m.serialize_entry("name", &self.name)?;
        if !omit_params {
            m.serialize_entry("params", &self.params)?;
        }
        m.end()
    }
}

impl RpcCall {
    pub fn new(name: impl Into<String>, params: Vec<Value>) -> Self {
        RpcCall {
            name: name.into(),
            params,
        }
    }

    /// Decode the JSON text of a payload.
    pub fn from_json(text: &str) -> Result<Self, RpcError> {
        if !text.trim_start().starts_with('{') {
            return Err(RpcError::Json(
                "an RPC payload must be a JSON object".into(),
            ));
        }
        serde_json::from_str(text).map_err(|e| RpcError::Json(e.to_string()))
    }

    /// The JSON text of this payload.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an RpcCall always serialises")
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("an RpcCall always serialises")
    }
}

/// What a `msg` payload is, by the Web SDK's rule: a truthy `service` makes it a messaging
/// envelope; otherwise it is an RPC if it has a `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    Rpc,
    Messaging,
}

/// Classify a payload's JSON text without decoding it fully (see [`PayloadKind`]).
pub fn payload_kind(json: &str) -> Result<PayloadKind, RpcError> {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default)]
        service: Option<&'a RawValue>,
        #[serde(borrow, default)]
        name: Option<&'a RawValue>,
    }
    if !json.trim_start().starts_with('{') {
        return Err(RpcError::Json("a payload must be a JSON object".into()));
    }
    let probe: Probe<'_> = serde_json::from_str(json).map_err(|e| RpcError::Json(e.to_string()))?;
    if probe.service.is_some_and(|s| is_truthy(s.get())) {
        Ok(PayloadKind::Messaging)
    } else if probe.name.is_some() {
        Ok(PayloadKind::Rpc)
    } else {
        Err(RpcError::NotAPayload)
    }
}

/// JavaScript truthiness of a JSON value given as text.
fn is_truthy(raw: &str) -> bool {
    match raw.trim() {
        "null" | "false" | "\"\"" => false,
        n if n.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
            n.parse::<f64>().map(|v| v != 0.0).unwrap_or(true)
        }
        _ => true,
    }
}

// ---------------------------------------------------------------------------------------------
// Param access
// ---------------------------------------------------------------------------------------------

struct Params<'a> {
    name: &'static str,
    params: &'a [Value],
}

impl<'a> Params<'a> {
    fn new(name: &'static str, call: &'a RpcCall) -> Self {
        Params {
            name,
            params: &call.params,
        }
    }

    fn arity(&self, min: usize, max: usize, expected: &'static str) -> Result<(), RpcError> {
        let got = self.params.len();
        if got < min || got > max {
            return Err(RpcError::Arity {
                name: self.name,
                expected,
                got,
            });
        }
        Ok(())
    }

    fn type_err(&self, index: usize, expected: &'static str) -> RpcError {
        RpcError::ParamType {
            name: self.name,
            index,
            expected,
        }
    }

    fn string(&self, index: usize) -> Result<String, RpcError> {
        match self.params.get(index) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(self.type_err(index, "a string")),
        }
    }

    fn code(&self, index: usize) -> Result<u32, RpcError> {
        self.params
            .get(index)
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| self.type_err(index, "a non-negative integer code"))
    }

    /// An object param; absent or `null` reads as empty (JavaScript spreads `undefined` to `{}`).
    fn object_or_empty(&self, index: usize) -> Result<Map<String, Value>, RpcError> {
        match self.params.get(index) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(self.type_err(index, "an object")),
        }
    }

    fn object(&self, index: usize) -> Result<Map<String, Value>, RpcError> {
        match self.params.get(index) {
            Some(Value::Object(m)) => Ok(m.clone()),
            _ => Err(self.type_err(index, "an object")),
        }
    }

    fn field_err(&self, index: usize, field: &'static str, expected: &'static str) -> RpcError {
        RpcError::FieldType {
            name: self.name,
            index,
            field,
            expected,
        }
    }
}

/// Remove `key` from `map` keeping the order of the others; `Ok(None)` if absent,
/// an error if present but not a string.
fn take_string(
    p: &Params<'_>,
    index: usize,
    map: &mut Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, RpcError> {
    match map.shift_remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(p.field_err(index, key, "a string")),
    }
}

// ---------------------------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------------------------

/// The options object of the login calls (third param), kept as a map so that fields this crate
/// does not model (`receiveCalls`, `deviceToken`, `serverPresenceControl`, `mediaServer`, …)
/// pass through in their original order.
///
/// In a typed [`Login`] the credential key (`credentialType` or `accessToken`) is *not* in this
/// map: it lives in [`Login::credential`] and is written last on encoding, where the SDK puts it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LoginOptions(pub Map<String, Value>);

impl fmt::Debug for LoginOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be device tokens: list the keys only.
        f.debug_tuple("LoginOptions")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl LoginOptions {
    pub fn new() -> Self {
        LoginOptions(Map::new())
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Set a key. An existing key keeps its position (as a JavaScript object spread does); a new
    /// one goes last.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// [`set`](Self::set), by value.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set(key, value);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `receiveCalls`, if present and boolean.
    pub fn receive_calls(&self) -> Option<bool> {
        self.0
            .get(option_keys::RECEIVE_CALLS)
            .and_then(Value::as_bool)
    }

    /// `serverPresenceControl`, if present and boolean.
    pub fn server_presence_control(&self) -> Option<bool> {
        self.0
            .get(option_keys::SERVER_PRESENCE_CONTROL)
            .and_then(Value::as_bool)
    }

    /// `deviceToken` (push token), if present and a string.
    pub fn device_token(&self) -> Option<&str> {
        self.0
            .get(option_keys::DEVICE_TOKEN)
            .and_then(Value::as_str)
    }

    /// What the Web SDK does to the options of token, one-time-key and code logins:
    /// `{...options, serverPresenceControl: false}`.
    fn with_sdk_presence_control(self) -> Self {
        self.with(option_keys::SERVER_PRESENCE_CONTROL, false)
    }
}

/// How a `login` call proves who the user is.
#[derive(Clone, PartialEq, Eq)]
pub enum LoginCredential {
    /// Password digest (param 2) with `credentialType` in the options (absent reads as MD5).
    Password {
        digest: String,
        kind: CredentialType,
    },
    /// `accessToken` in the options; param 2 is then `""`.
    AccessToken(String),
}

impl fmt::Debug for LoginCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginCredential::Password { kind, .. } => write!(f, "Password({kind}, ..)"),
            LoginCredential::AccessToken(_) => f.write_str("AccessToken(..)"),
        }
    }
}

/// `login [loginName, digestOrEmpty, options]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    /// The full login name as sent (`user@app.account.voximplant.com`).
    pub login: String,
    pub credential: LoginCredential,
    /// The options without the credential key.
    pub options: LoginOptions,
}

impl Login {
    /// A password login as the Web SDK's `login(user, password, options)` builds it: the digest of
    /// the password with `kind`, `credentialType` appended to the options.
    pub fn with_password(
        login: impl Into<String>,
        password: &str,
        kind: CredentialType,
        options: LoginOptions,
    ) -> Self {
        let login = login.into();
        let digest = kind.digest(&login, password);
        Login {
            login,
            credential: LoginCredential::Password { digest, kind },
            options,
        }
    }

    /// A token login as the Web SDK's `loginWithToken(user, token, options)` builds it:
    /// `serverPresenceControl: false` set in the options, `accessToken` appended, param 2 `""`.
    pub fn with_token(
        login: impl Into<String>,
        access_token: impl Into<String>,
        options: LoginOptions,
    ) -> Self {
        Login {
            login: login.into(),
            credential: LoginCredential::AccessToken(access_token.into()),
            options: options.with_sdk_presence_control(),
        }
    }

    fn parse(call: &RpcCall) -> Result<Self, RpcError> {
        let p = Params::new(names::LOGIN, call);
        p.arity(2, 3, "2 or 3")?;
        let login = p.string(0)?;
        let secret = p.string(1)?;
        let mut options = p.object_or_empty(2)?;
        let credential =
            if let Some(token) = take_string(&p, 2, &mut options, option_keys::ACCESS_TOKEN)? {
                LoginCredential::AccessToken(token)
            } else {
                let kind = match take_string(&p, 2, &mut options, option_keys::CREDENTIAL_TYPE)? {
                    None => CredentialType::Md5,
                    Some(name) => {
                        CredentialType::from_wire(&name).ok_or(RpcError::UnknownCredentialType {
                            name: names::LOGIN,
                            value: name,
                        })?
                    }
                };
                LoginCredential::Password {
                    digest: secret,
                    kind,
                }
            };
        Ok(Login {
            login,
            credential,
            options: LoginOptions(options),
        })
    }

    fn to_call(&self) -> RpcCall {
        let mut options = self.options.0.clone();
        let secret = match &self.credential {
            LoginCredential::Password { digest, kind } => {
                options.insert(option_keys::CREDENTIAL_TYPE.into(), kind.as_str().into());
                digest.clone()
            }
            LoginCredential::AccessToken(token) => {
                options.insert(option_keys::ACCESS_TOKEN.into(), token.clone().into());
                String::new()
            }
        };
        RpcCall::new(
            names::LOGIN,
            vec![
                self.login.clone().into(),
                secret.into(),
                Value::Object(options),
            ],
        )
    }
}

/// `loginGenerateOneTimeKey [loginName]`; answered with `loginFailed [302, key]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOneTimeKey {
    pub login: String,
}

/// `loginUsingOneTimeKey [loginName, hash, options]`, `hash` being
/// [`one_time_key_hash`](crate::auth::one_time_key_hash).
#[derive(Clone, PartialEq)]
pub struct OneTimeKeyLogin {
    pub login: String,
    pub hash: String,
    pub options: LoginOptions,
}

impl fmt::Debug for OneTimeKeyLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneTimeKeyLogin")
            .field("login", &self.login)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl OneTimeKeyLogin {
    /// As the Web SDK's `loginWithOneTimeKey(user, hash, options)` builds it
    /// (`serverPresenceControl: false` set in the options).
    pub fn new(login: impl Into<String>, hash: impl Into<String>, options: LoginOptions) -> Self {
        OneTimeKeyLogin {
            login: login.into(),
            hash: hash.into(),
            options: options.with_sdk_presence_control(),
        }
    }
}

/// `loginStage2 [loginName, code, options]`: the second step after `loginFailed [301]` (hidden
/// `loginWithCode` API).
#[derive(Clone, PartialEq)]
pub struct LoginStage2 {
    pub login: String,
    pub code: String,
    pub options: LoginOptions,
}

impl fmt::Debug for LoginStage2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginStage2")
            .field("login", &self.login)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl LoginStage2 {
    /// As the Web SDK's `loginWithCode(user, code, options)` builds it
    /// (`serverPresenceControl: false` set in the options).
    pub fn new(login: impl Into<String>, code: impl Into<String>, options: LoginOptions) -> Self {
        LoginStage2 {
            login: login.into(),
            code: code.into(),
            options: options.with_sdk_presence_control(),
        }
    }
}

/// `refreshOauthToken`: `[loginName, refreshToken]`, or `[loginName, {refreshToken, deviceToken}]`
/// when a device token is given.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshOauthToken {
    pub login: String,
    pub refresh_token: String,
    pub device_token: Option<String>,
}

impl fmt::Debug for RefreshOauthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshOauthToken")
            .field("login", &self.login)
            .field("device_token", &self.device_token.as_ref().map(|_| ".."))
            .finish_non_exhaustive()
    }
}

impl RefreshOauthToken {
    fn parse(call: &RpcCall) -> Result<Self, RpcError> {
        let p = Params::new(names::REFRESH_OAUTH_TOKEN, call);
        p.arity(2, 2, "2")?;
        let login = p.string(0)?;
        match &call.params[1] {
            Value::String(t) => Ok(RefreshOauthToken {
                login,
                refresh_token: t.clone(),
                device_token: None,
            }),
            Value::Object(_) => {
                let mut o = p.object(1)?;
                let refresh_token = take_string(&p, 1, &mut o, "refreshToken")?
                    .ok_or_else(|| p.field_err(1, "refreshToken", "a string"))?;
                let device_token = match o.shift_remove(option_keys::DEVICE_TOKEN) {
                    None | Some(Value::Null) => None,
                    Some(Value::String(d)) => Some(d),
                    Some(_) => return Err(p.field_err(1, option_keys::DEVICE_TOKEN, "a string")),
                };
                Ok(RefreshOauthToken {
                    login,
                    refresh_token,
                    device_token,
                })
            }
            _ => Err(p.type_err(1, "a string or an object")),
        }
    }

    fn to_call(&self) -> RpcCall {
        let second = match &self.device_token {
            None => Value::String(self.refresh_token.clone()),
            Some(d) => {
                let mut o = Map::new();
                o.insert("refreshToken".into(), self.refresh_token.clone().into());
                o.insert(option_keys::DEVICE_TOKEN.into(), d.clone().into());
                Value::Object(o)
            }
        };
        RpcCall::new(
            names::REFRESH_OAUTH_TOKEN,
            vec![self.login.clone().into(), second],
        )
    }
}

/// Every RPC the Web SDK's login and connection code sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientRpc {
    /// `{"name":"__ping"}`.
    Ping,
    Login(Login),
    LoginGenerateOneTimeKey(GenerateOneTimeKey),
    LoginUsingOneTimeKey(OneTimeKeyLogin),
    LoginStage2(LoginStage2),
    RefreshOauthToken(RefreshOauthToken),
}

impl ClientRpc {
    /// Read a call. Unknown names give [`RpcError::UnknownName`] (the Web SDK also sends call
    /// and push RPCs that are out of this crate's scope).
    pub fn parse(call: &RpcCall) -> Result<ClientRpc, RpcError> {
        Ok(match call.name.as_str() {
            names::PING => ClientRpc::Ping,
            names::LOGIN => ClientRpc::Login(Login::parse(call)?),
            names::LOGIN_GENERATE_ONE_TIME_KEY => {
                let p = Params::new(names::LOGIN_GENERATE_ONE_TIME_KEY, call);
                p.arity(1, 1, "1")?;
                ClientRpc::LoginGenerateOneTimeKey(GenerateOneTimeKey {
                    login: p.string(0)?,
                })
            }
            names::LOGIN_USING_ONE_TIME_KEY => {
                let p = Params::new(names::LOGIN_USING_ONE_TIME_KEY, call);
                p.arity(2, 3, "2 or 3")?;
                ClientRpc::LoginUsingOneTimeKey(OneTimeKeyLogin {
                    login: p.string(0)?,
                    hash: p.string(1)?,
                    options: LoginOptions(p.object_or_empty(2)?),
                })
            }
            names::LOGIN_STAGE2 => {
                let p = Params::new(names::LOGIN_STAGE2, call);
                p.arity(2, 3, "2 or 3")?;
                ClientRpc::LoginStage2(LoginStage2 {
                    login: p.string(0)?,
                    code: p.string(1)?,
                    options: LoginOptions(p.object_or_empty(2)?),
                })
            }
            names::REFRESH_OAUTH_TOKEN => {
                ClientRpc::RefreshOauthToken(RefreshOauthToken::parse(call)?)
            }
            other => return Err(RpcError::UnknownName(other.to_owned())),
        })
    }

    /// Decode a payload's JSON text.
    pub fn from_json(text: &str) -> Result<ClientRpc, RpcError> {
        ClientRpc::parse(&RpcCall::from_json(text)?)
    }

    /// The call exactly as the Web SDK frames it.
    pub fn to_call(&self) -> RpcCall {
        match self {
            ClientRpc::Ping => RpcCall::new(names::PING, Vec::new()),
            ClientRpc::Login(l) => l.to_call(),
            ClientRpc::LoginGenerateOneTimeKey(g) => RpcCall::new(
                names::LOGIN_GENERATE_ONE_TIME_KEY,
                vec![g.login.clone().into()],
            ),
            ClientRpc::LoginUsingOneTimeKey(o) => RpcCall::new(
                names::LOGIN_USING_ONE_TIME_KEY,
                vec![
                    o.login.clone().into(),
                    o.hash.clone().into(),
                    Value::Object(o.options.0.clone()),
                ],
            ),
            ClientRpc::LoginStage2(s) => RpcCall::new(
                names::LOGIN_STAGE2,
                vec![
                    s.login.clone().into(),
                    s.code.clone().into(),
                    Value::Object(s.options.0.clone()),
                ],
            ),
            ClientRpc::RefreshOauthToken(r) => r.to_call(),
        }
    }

    /// The JSON text of the payload.
    pub fn to_json(&self) -> String {
        self.to_call().to_json()
    }

    /// The wire name of the call.
    pub fn name(&self) -> &'static str {
        match self {
            ClientRpc::Ping => names::PING,
            ClientRpc::Login(_) => names::LOGIN,
            ClientRpc::LoginGenerateOneTimeKey(_) => names::LOGIN_GENERATE_ONE_TIME_KEY,
            ClientRpc::LoginUsingOneTimeKey(_) => names::LOGIN_USING_ONE_TIME_KEY,
            ClientRpc::LoginStage2(_) => names::LOGIN_STAGE2,
            ClientRpc::RefreshOauthToken(_) => names::REFRESH_OAUTH_TOKEN,
        }
    }

    /// The login name the call is about (every call but the ping has one).
    pub fn login_name(&self) -> Option<&str> {
        match self {
            ClientRpc::Ping => None,
            ClientRpc::Login(l) => Some(&l.login),
            ClientRpc::LoginGenerateOneTimeKey(g) => Some(&g.login),
            ClientRpc::LoginUsingOneTimeKey(o) => Some(&o.login),
            ClientRpc::LoginStage2(s) => Some(&s.login),
            ClientRpc::RefreshOauthToken(r) => Some(&r.login),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------------------------

/// The `OAuth` object of `loginSuccessful` and `refreshOauthTokenSuccessful`. The SDK hands it to
/// the application unchanged. Expiries are lifetimes in seconds from now (what our server sends;
/// the `.d.ts` is ambiguous about the cloud's meaning).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthTokens {
    pub access_token: String,
    pub access_expire: u64,
    pub refresh_token: String,
    pub refresh_expire: u64,
}

impl fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("access_expire", &self.access_expire)
            .field("refresh_expire", &self.refresh_expire)
            .finish_non_exhaustive()
    }
}

/// The `loginFailed` codes the Web SDK knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum LoginFailureCode {
    /// Second stage initiated: continue with `loginStage2` (the SDK rejects `login`).
    SecondStage = 301,
    /// Not a failure: the reply to `loginGenerateOneTimeKey`, with the key as the second param.
    OneTimeKey = 302,
    InvalidPassword = 401,
    MauAccessDenied = 402,
    AccountFrozen = 403,
    InvalidUsername = 404,
    /// Produced by the SDK itself when the connection closes during login.
    ConnectionClosed = 409,
    InvalidState = 491,
    Internal = 500,
    TokenExpired = 701,
}

impl LoginFailureCode {
    pub const ALL: [LoginFailureCode; 10] = [
        LoginFailureCode::SecondStage,
        LoginFailureCode::OneTimeKey,
        LoginFailureCode::InvalidPassword,
        LoginFailureCode::MauAccessDenied,
        LoginFailureCode::AccountFrozen,
        LoginFailureCode::InvalidUsername,
        LoginFailureCode::ConnectionClosed,
        LoginFailureCode::InvalidState,
        LoginFailureCode::Internal,
        LoginFailureCode::TokenExpired,
    ];

    pub fn code(self) -> u32 {
        self as u32
    }

    pub fn from_code(code: u32) -> Option<Self> {
        LoginFailureCode::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl Serialize for LoginFailureCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.code())
    }
}

impl<'de> Deserialize<'de> for LoginFailureCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = u32::deserialize(d)?;
        LoginFailureCode::from_code(code).ok_or_else(|| {
            serde::de::Error::custom(format_args!("unknown login failure code {code}"))
        })
    }
}

/// `loginSuccessful [displayName, {OAuth?, ...}]`. The SDK reads `OAuth`, `iceConfig` and
/// `connectionId` from the second param, and fails if that param is missing, so it is always
/// written (possibly as `{}`).
#[derive(Debug, Clone, PartialEq)]
pub struct LoginSuccessful {
    pub display_name: String,
    /// `OAuth`; our server omits it after a token login, which issues no new tokens.
    pub tokens: Option<OAuthTokens>,
    /// Every other field of the second param (`iceConfig`, `connectionId`, …), written after
    /// `OAuth` in their order.
    pub extra: Map<String, Value>,
}

impl LoginSuccessful {
    pub fn new(display_name: impl Into<String>, tokens: Option<OAuthTokens>) -> Self {
        LoginSuccessful {
            display_name: display_name.into(),
            tokens,
            extra: Map::new(),
        }
    }

    /// `connectionId`, if present and a string.
    pub fn connection_id(&self) -> Option<&str> {
        self.extra.get("connectionId").and_then(Value::as_str)
    }

    pub fn to_json(&self) -> String {
        ServerRpc::LoginSuccessful(self.clone()).to_json()
    }
}

/// `loginFailed [code]`, or `[code, extra]` (`[302, key]` carries a one-time key).
#[derive(Clone, PartialEq)]
pub struct LoginFailed {
    /// The raw code; see [`LoginFailed::failure`] for the known ones.
    pub code: u32,
    pub extra: Option<Value>,
}

impl fmt::Debug for LoginFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginFailed")
            .field("code", &self.code)
            .field("extra", &self.extra.as_ref().map(|_| ".."))
            .finish()
    }
}

impl LoginFailed {
    pub fn new(code: LoginFailureCode) -> Self {
        LoginFailed {
            code: code.code(),
            extra: None,
        }
    }

    /// `loginFailed [302, key]`: the answer to `loginGenerateOneTimeKey`.
    pub fn one_time_key(key: impl Into<String>) -> Self {
        LoginFailed {
            code: LoginFailureCode::OneTimeKey.code(),
            extra: Some(Value::String(key.into())),
        }
    }

    pub fn failure(&self) -> Option<LoginFailureCode> {
        LoginFailureCode::from_code(self.code)
    }

    /// The key of a `[302, key]` reply.
    pub fn key(&self) -> Option<&str> {
        (self.code == LoginFailureCode::OneTimeKey.code()).then_some(())?;
        self.extra.as_ref().and_then(Value::as_str)
    }

    pub fn to_json(&self) -> String {
        ServerRpc::LoginFailed(self.clone()).to_json()
    }
}

/// `refreshOauthTokenSuccessful [{OAuth: {...}, ...}]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshOauthTokenSuccessful {
    pub tokens: OAuthTokens,
    /// Other fields of the param object, written after `OAuth`.
    pub extra: Map<String, Value>,
}

impl RefreshOauthTokenSuccessful {
    pub fn new(tokens: OAuthTokens) -> Self {
        RefreshOauthTokenSuccessful {
            tokens,
            extra: Map::new(),
        }
    }

    pub fn to_json(&self) -> String {
        ServerRpc::RefreshOauthTokenSuccessful(self.clone()).to_json()
    }
}

/// `refreshOauthTokenFailed [code]` (701 for a bad, expired or used refresh token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshOauthTokenFailed {
    pub code: u32,
}

impl RefreshOauthTokenFailed {
    pub fn new(code: LoginFailureCode) -> Self {
        RefreshOauthTokenFailed { code: code.code() }
    }

    pub fn to_json(&self) -> String {
        ServerRpc::RefreshOauthTokenFailed(*self).to_json()
    }
}

/// Every RPC the Web SDK's login and connection code reads.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerRpc {
    /// `__createConnection`; we send `[]`. The SDK ignores the params (its table names the first
    /// one `token`); they are kept as received.
    CreateConnection {
        params: Vec<Value>,
    },
    /// `{"name":"__pong","params":[]}`; params are ignored on reading.
    Pong,
    LoginSuccessful(LoginSuccessful),
    LoginFailed(LoginFailed),
    RefreshOauthTokenSuccessful(RefreshOauthTokenSuccessful),
    RefreshOauthTokenFailed(RefreshOauthTokenFailed),
}

fn take_oauth(
    p: &Params<'_>,
    index: usize,
    map: &mut Map<String, Value>,
) -> Result<Option<OAuthTokens>, RpcError> {
    match map.shift_remove("OAuth") {
        None => Ok(None),
        Some(v) => serde_json::from_value(v).map(Some).map_err(|_| {
            p.field_err(
                index,
                "OAuth",
                "{accessToken, accessExpire, refreshToken, refreshExpire}",
            )
        }),
    }
}

fn oauth_object(tokens: Option<&OAuthTokens>, extra: &Map<String, Value>) -> Value {
    let mut o = Map::new();
    if let Some(t) = tokens {
        o.insert(
            "OAuth".into(),
            serde_json::to_value(t).expect("tokens serialise"),
        );
    }
    for (k, v) in extra {
        o.insert(k.clone(), v.clone());
    }
    Value::Object(o)
}

impl ServerRpc {
    /// `__createConnection` with the empty params our server sends.
    pub fn create_connection() -> Self {
        ServerRpc::CreateConnection { params: Vec::new() }
    }

    pub fn parse(call: &RpcCall) -> Result<ServerRpc, RpcError> {
        Ok(match call.name.as_str() {
            names::CREATE_CONNECTION => ServerRpc::CreateConnection {
                params: call.params.clone(),
            },
            names::PONG => ServerRpc::Pong,
            names::LOGIN_SUCCESSFUL => {
                let p = Params::new(names::LOGIN_SUCCESSFUL, call);
                p.arity(2, 2, "2")?;
                let display_name = p.string(0)?;
                let mut extra = p.object(1)?;
                let tokens = take_oauth(&p, 1, &mut extra)?;
                ServerRpc::LoginSuccessful(LoginSuccessful {
                    display_name,
                    tokens,
                    extra,
                })
            }
            names::LOGIN_FAILED => {
                let p = Params::new(names::LOGIN_FAILED, call);
                p.arity(1, 2, "1 or 2")?;
                ServerRpc::LoginFailed(LoginFailed {
                    code: p.code(0)?,
                    extra: call.params.get(1).cloned(),
                })
            }
            names::REFRESH_OAUTH_TOKEN_SUCCESSFUL => {
                let p = Params::new(names::REFRESH_OAUTH_TOKEN_SUCCESSFUL, call);
                p.arity(1, 1, "1")?;
                let mut extra = p.object(0)?;
                let tokens = take_oauth(&p, 0, &mut extra)?.ok_or_else(|| {
                    p.field_err(
                        0,
                        "OAuth",
                        "{accessToken, accessExpire, refreshToken, refreshExpire}",
                    )
                })?;
                ServerRpc::RefreshOauthTokenSuccessful(RefreshOauthTokenSuccessful {
                    tokens,
                    extra,
                })
            }
            names::REFRESH_OAUTH_TOKEN_FAILED => {
                let p = Params::new(names::REFRESH_OAUTH_TOKEN_FAILED, call);
                p.arity(1, 1, "1")?;
                ServerRpc::RefreshOauthTokenFailed(RefreshOauthTokenFailed { code: p.code(0)? })
            }
            other => return Err(RpcError::UnknownName(other.to_owned())),
        })
    }

    pub fn from_json(text: &str) -> Result<ServerRpc, RpcError> {
        ServerRpc::parse(&RpcCall::from_json(text)?)
    }

    pub fn to_call(&self) -> RpcCall {
        match self {
            ServerRpc::CreateConnection { params } => {
                RpcCall::new(names::CREATE_CONNECTION, params.clone())
            }
            ServerRpc::Pong => RpcCall::new(names::PONG, Vec::new()),
            ServerRpc::LoginSuccessful(s) => RpcCall::new(
                names::LOGIN_SUCCESSFUL,
                vec![
                    s.display_name.clone().into(),
                    oauth_object(s.tokens.as_ref(), &s.extra),
                ],
            ),
            ServerRpc::LoginFailed(f) => {
                let mut params = vec![Value::from(f.code)];
                params.extend(f.extra.clone());
                RpcCall::new(names::LOGIN_FAILED, params)
            }
            ServerRpc::RefreshOauthTokenSuccessful(r) => RpcCall::new(
                names::REFRESH_OAUTH_TOKEN_SUCCESSFUL,
                vec![oauth_object(Some(&r.tokens), &r.extra)],
            ),
            ServerRpc::RefreshOauthTokenFailed(r) => {
                RpcCall::new(names::REFRESH_OAUTH_TOKEN_FAILED, vec![Value::from(r.code)])
            }
        }
    }

    /// The JSON text of the payload.
    pub fn to_json(&self) -> String {
        self.to_call().to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(v: Value) -> RpcCall {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn ping_has_no_params_and_others_keep_empty_params() {
        assert_eq!(ClientRpc::Ping.to_json(), r#"{"name":"__ping"}"#);
        assert_eq!(
            ClientRpc::from_json(r#"{"name":"__ping"}"#).unwrap(),
            ClientRpc::Ping
        );
        assert_eq!(
            ClientRpc::from_json(r#"{"name":"__ping","params":[]}"#).unwrap(),
            ClientRpc::Ping
        );
        assert_eq!(
            ServerRpc::create_connection().to_json(),
            r#"{"name":"__createConnection","params":[]}"#
        );
        assert_eq!(
            ServerRpc::Pong.to_json(),
            r#"{"name":"__pong","params":[]}"#
        );
        assert_eq!(
            RpcCall::from_json(r#"{"name":"x"}"#).unwrap().params,
            Vec::<Value>::new()
        );
    }

    #[test]
    fn classifies_payloads() {
        assert_eq!(payload_kind(r#"{"name":"__ping"}"#), Ok(PayloadKind::Rpc));
        assert_eq!(
            payload_kind(r#"{"service":"chat","event":"getUser"}"#),
            Ok(PayloadKind::Messaging)
        );
        assert_eq!(
            payload_kind(r#"{"service":"","name":"login"}"#),
            Ok(PayloadKind::Rpc)
        );
        assert_eq!(
            payload_kind(r#"{"service":0,"name":"login"}"#),
            Ok(PayloadKind::Rpc)
        );
        assert_eq!(payload_kind(r#"{"service":1}"#), Ok(PayloadKind::Messaging));
        assert_eq!(payload_kind(r#"{"x":1}"#), Err(RpcError::NotAPayload));
        assert!(matches!(payload_kind("[1]"), Err(RpcError::Json(_))));
    }

    #[test]
    fn password_login_builder_matches_sdk() {
        let l = Login::with_password(
            "user1@app.acc.voximplant.com",
            "secret",
            CredentialType::Md5,
            LoginOptions::new(),
        );
        assert_eq!(
            ClientRpc::Login(l).to_json(),
            r#"{"name":"login","params":["user1@app.acc.voximplant.com","4e89e865d6dd680d0e499ed685e83cef",{"credentialType":"md5"}]}"#
        );
        let l = Login::with_password(
            "user1@app.acc.voximplant.com",
            "secret",
            CredentialType::Sha256,
            LoginOptions::new().with("receiveCalls", false),
        );
        assert_eq!(
            ClientRpc::Login(l).to_json(),
            r#"{"name":"login","params":["user1@app.acc.voximplant.com","2ab0257e31a5d03b0fcf66b0d032548b5d72a7be7e09209516f963831b05fa99",{"receiveCalls":false,"credentialType":"sha256"}]}"#
        );
    }

    #[test]
    fn token_and_key_logins_match_sdk() {
        let l = Login::with_token(
            "u@a.b",
            "at-1",
            LoginOptions::new().with("receiveCalls", true),
        );
        assert_eq!(
            ClientRpc::Login(l).to_json(),
            r#"{"name":"login","params":["u@a.b","",{"receiveCalls":true,"serverPresenceControl":false,"accessToken":"at-1"}]}"#
        );
        // A caller-supplied serverPresenceControl keeps its place and is forced to false.
        let opts = LoginOptions::new()
            .with("serverPresenceControl", true)
            .with("receiveCalls", true);
        let o = OneTimeKeyLogin::new("u@a.b", "h", opts);
        assert_eq!(
            ClientRpc::LoginUsingOneTimeKey(o).to_json(),
            r#"{"name":"loginUsingOneTimeKey","params":["u@a.b","h",{"serverPresenceControl":false,"receiveCalls":true}]}"#
        );
        let s = LoginStage2::new(
            "u@a.b",
            "123456",
            LoginOptions::new().with("receiveCalls", false),
        );
        assert_eq!(
            ClientRpc::LoginStage2(s).to_json(),
            r#"{"name":"loginStage2","params":["u@a.b","123456",{"receiveCalls":false,"serverPresenceControl":false}]}"#
        );
    }

    #[test]
    fn parses_login_variants() {
        let r = ClientRpc::parse(&call(
            json!({"name":"login","params":["u@a.b","d",{"receiveCalls":true}]}),
        ))
        .unwrap();
        let ClientRpc::Login(l) = r else { panic!() };
        assert_eq!(
            l.credential,
            LoginCredential::Password {
                digest: "d".into(),
                kind: CredentialType::Md5
            }
        );
        assert_eq!(l.options.receive_calls(), Some(true));
        // Two params: no options at all.
        let r = ClientRpc::parse(&call(json!({"name":"login","params":["u@a.b","d"]}))).unwrap();
        assert!(matches!(
            r,
            ClientRpc::Login(Login {
                credential: LoginCredential::Password { .. },
                ..
            })
        ));
        let r = ClientRpc::parse(&call(
            json!({"name":"login","params":["u@a.b","",{"accessToken":"at","deviceToken":"dt"}]}),
        ))
        .unwrap();
        let ClientRpc::Login(l) = r else { panic!() };
        assert_eq!(l.credential, LoginCredential::AccessToken("at".into()));
        assert_eq!(l.options.device_token(), Some("dt"));
        assert_eq!(ClientRpc::Login(l).login_name(), Some("u@a.b"));
    }

    #[test]
    fn rejects_malformed_calls() {
        let e = |v: Value| ClientRpc::parse(&call(v)).unwrap_err();
        assert!(matches!(
            e(json!({"name":"login","params":["u"]})),
            RpcError::Arity { got: 1, .. }
        ));
        assert!(matches!(
            e(json!({"name":"login","params":[1,"d"]})),
            RpcError::ParamType { index: 0, .. }
        ));
        assert!(matches!(
            e(json!({"name":"login","params":["u","d",[]]})),
            RpcError::ParamType { index: 2, .. }
        ));
        assert!(matches!(
            e(json!({"name":"login","params":["u","d",{"credentialType":"sha1"}]})),
            RpcError::UnknownCredentialType { .. }
        ));
        assert!(matches!(
            e(json!({"name":"login","params":["u","",{"accessToken":5}]})),
            RpcError::FieldType {
                field: "accessToken",
                ..
            }
        ));
        assert!(matches!(
            e(json!({"name":"loginGenerateOneTimeKey","params":[]})),
            RpcError::Arity { .. }
        ));
        assert!(matches!(
            e(json!({"name":"refreshOauthToken","params":["u",5]})),
            RpcError::ParamType { index: 1, .. }
        ));
        assert!(matches!(
            e(json!({"name":"refreshOauthToken","params":["u",{"deviceToken":"d"}]})),
            RpcError::FieldType {
                field: "refreshToken",
                ..
            }
        ));
        assert_eq!(
            e(json!({"name":"createCall","params":[]})),
            RpcError::UnknownName("createCall".into())
        );
        assert!(matches!(
            RpcCall::from_json(r#"{"params":[]}"#),
            Err(RpcError::Json(_))
        ));
        assert!(matches!(
            RpcCall::from_json(r#"["login",[]]"#),
            Err(RpcError::Json(_))
        ));
    }

    #[test]
    fn refresh_shapes_round_trip() {
        for text in [
            r#"{"name":"refreshOauthToken","params":["u@a.b","rt-1"]}"#,
            r#"{"name":"refreshOauthToken","params":["u@a.b",{"refreshToken":"rt-1","deviceToken":"dev"}]}"#,
        ] {
            assert_eq!(ClientRpc::from_json(text).unwrap().to_json(), text);
        }
    }

    fn tokens() -> OAuthTokens {
        OAuthTokens {
            access_token: "at-1".into(),
            access_expire: 172800,
            refresh_token: "rt-1".into(),
            refresh_expire: 2592000,
        }
    }

    #[test]
    fn server_replies_encode_as_observed() {
        assert_eq!(
            LoginSuccessful::new("User One", Some(tokens())).to_json(),
            r#"{"name":"loginSuccessful","params":["User One",{"OAuth":{"accessToken":"at-1","accessExpire":172800,"refreshToken":"rt-1","refreshExpire":2592000}}]}"#
        );
        assert_eq!(
            LoginSuccessful::new("U", None).to_json(),
            r#"{"name":"loginSuccessful","params":["U",{}]}"#
        );
        assert_eq!(
            LoginFailed::new(LoginFailureCode::InvalidPassword).to_json(),
            r#"{"name":"loginFailed","params":[401]}"#
        );
        assert_eq!(
            LoginFailed::one_time_key("otk-1").to_json(),
            r#"{"name":"loginFailed","params":[302,"otk-1"]}"#
        );
        assert_eq!(
            RefreshOauthTokenSuccessful::new(tokens()).to_json(),
            r#"{"name":"refreshOauthTokenSuccessful","params":[{"OAuth":{"accessToken":"at-1","accessExpire":172800,"refreshToken":"rt-1","refreshExpire":2592000}}]}"#
        );
        assert_eq!(
            RefreshOauthTokenFailed::new(LoginFailureCode::TokenExpired).to_json(),
            r#"{"name":"refreshOauthTokenFailed","params":[701]}"#
        );
    }

    #[test]
    fn server_replies_parse() {
        let s = ServerRpc::from_json(
            r#"{"name":"loginSuccessful","params":["U",{"OAuth":{"accessToken":"a","accessExpire":1,"refreshToken":"r","refreshExpire":2},"connectionId":"c1","iceConfig":[]}]}"#,
        )
        .unwrap();
        let ServerRpc::LoginSuccessful(ok) = &s else {
            panic!()
        };
        assert_eq!(ok.tokens.as_ref().unwrap().refresh_token, "r");
        assert_eq!(ok.connection_id(), Some("c1"));
        assert_eq!(
            ok.extra.keys().collect::<Vec<_>>(),
            ["connectionId", "iceConfig"]
        );
        let f = ServerRpc::from_json(r#"{"name":"loginFailed","params":[302,"otk-9"]}"#).unwrap();
        let ServerRpc::LoginFailed(f) = f else {
            panic!()
        };
        assert_eq!(f.failure(), Some(LoginFailureCode::OneTimeKey));
        assert_eq!(f.key(), Some("otk-9"));
        assert_eq!(
            LoginFailed::new(LoginFailureCode::InvalidPassword).key(),
            None
        );
        assert!(matches!(
            ServerRpc::from_json(r#"{"name":"loginFailed","params":["401"]}"#),
            Err(RpcError::ParamType { .. })
        ));
        assert!(matches!(
            ServerRpc::from_json(r#"{"name":"refreshOauthTokenSuccessful","params":[{}]}"#),
            Err(RpcError::FieldType { field: "OAuth", .. })
        ));
        assert!(matches!(
            ServerRpc::from_json(r#"{"name":"loginSuccessful","params":["U"]}"#),
            Err(RpcError::Arity { .. })
        ));
    }

    #[test]
    fn login_failure_codes() {
        let nums: Vec<u32> = LoginFailureCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(nums, [301, 302, 401, 402, 403, 404, 409, 491, 500, 701]);
        for c in LoginFailureCode::ALL {
            assert_eq!(LoginFailureCode::from_code(c.code()), Some(c));
            let text = serde_json::to_string(&c).unwrap();
            assert_eq!(text, c.code().to_string());
            assert_eq!(serde_json::from_str::<LoginFailureCode>(&text).unwrap(), c);
        }
        assert_eq!(LoginFailureCode::from_code(400), None);
        assert!(serde_json::from_str::<LoginFailureCode>("400").is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let l = Login::with_password(
            "u@a.b",
            "secret",
            CredentialType::Md5,
            LoginOptions::new().with("deviceToken", "dt-secret"),
        );
        let digest = crate::auth::password_digest_md5("u", "secret");
        let shown = format!(
            "{:?} {:?} {:?}",
            l,
            tokens(),
            RpcCall::new("login", vec![digest.clone().into()])
        );
        assert!(
            !shown.contains(&digest) && !shown.contains("dt-secret") && !shown.contains("at-1"),
            "{shown}"
        );
        let r = RefreshOauthToken {
            login: "u".into(),
            refresh_token: "rt-x".into(),
            device_token: None,
        };
        assert!(!format!("{r:?}").contains("rt-x"));
        assert!(!format!("{:?}", LoginFailed::one_time_key("otk-z")).contains("otk-z"));
    }
}
