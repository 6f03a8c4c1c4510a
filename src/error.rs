//! The one error type of the SDK.
//!
//! Every fallible call returns [`Error`]. Each variant has a stable numeric [`Error::code`] so that
//! the C ABI can hand it over as a number: messenger errors keep the protocol's numbers (0–44, 500,
//! and the SDKs' client-side 10000–10004), login failures keep the `loginFailed` code (401, 404,
//! 701, …), and the SDK's own conditions use numbers from 20000 up.

use crate::messenger::ErrorEvent;
use vox_protocol::messaging::ErrorCode;
use vox_protocol::rpc::LoginFailureCode;

/// Everything that can go wrong in a call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The arguments were rejected locally; nothing was sent. `code` is 10001 (invalid
    /// arguments), or 28 for a retransmit range whose `from` is greater than its `to`, as the Web
    /// SDK does.
    #[error("invalid argument: {reason}")]
    InvalidArgument { code: u32, reason: String },
    /// The call does not fit the client's state (e.g. `login` before `connect`, `connect` twice).
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// A messaging call made before a successful login (10003).
    #[error("the client is not logged in")]
    NotLoggedIn,
    /// `typing()` called again within 10 s of the last one (10000); nothing was sent.
    #[error("method calls within 10 s of the last call are discarded")]
    CallDiscarded,
    /// No answer within the request timeout (10002).
    #[error("no response to {action} within the request timeout")]
    Timeout { action: String },
    /// The server answered the request with `onError`.
    #[error("messenger error {}: {}", .0.code, .0.description)]
    Messenger(Box<ErrorEvent>),
    /// The server refused a login or token refresh (`loginFailed` / `refreshOauthTokenFailed`).
    #[error("login failed with code {code}")]
    LoginFailed { code: u32 },
    /// The server's answer could not be understood (10004).
    #[error("failed to process the response: {0}")]
    Protocol(String),
    /// The socket could not be opened, or the handshake did not complete.
    #[error("connection failed: {0}")]
    ConnectionFailed(String),
    /// TLS configuration problem (bad CA or pinned certificate).
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The connection ended (closed by the server, resume impossible, reconnect attempts
    /// exhausted, or `disconnect()`) while the call was pending.
    #[error("connection closed: {0}")]
    ConnectionClosed(String),
    /// The operation was cancelled with [`Client::cancel`](crate::Client::cancel).
    #[error("operation cancelled")]
    Cancelled,
    /// A bug in the SDK.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable number of this error (see the module docs).
    pub fn code(&self) -> u32 {
        match self {
            Error::InvalidArgument { code, .. } => *code,
            Error::NotLoggedIn => ErrorCode::NotLoggedIn.code(),
            Error::CallDiscarded => ErrorCode::CallDiscarded.code(),
            Error::Timeout { .. } => ErrorCode::ResponseTimeout.code(),
            Error::Messenger(e) => e.code,
            Error::LoginFailed { code } => *code,
            Error::Protocol(_) => ErrorCode::ResponseProcessing.code(),
            Error::InvalidState(_) => 20001,
            Error::ConnectionFailed(_) => 20002,
            Error::Tls(_) => 20003,
            Error::ConnectionClosed(_) => 20004,
            Error::Cancelled => 20005,
            Error::Internal(_) => 20099,
        }
    }

    /// The known meaning of a login failure code.
    pub fn login_failure(&self) -> Option<LoginFailureCode> {
        match self {
            Error::LoginFailed { code } => LoginFailureCode::from_code(*code),
            _ => None,
        }
    }

    /// The known meaning of a messenger error code.
    pub fn messenger_error(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.code())
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            code: ErrorCode::InvalidArguments.code(),
            reason: reason.into(),
        }
    }
}

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
