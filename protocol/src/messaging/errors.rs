//! Messenger error codes (`code` of `onError`, and the SDK's local rejections).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $text:literal; )*) => {
        /// Every messenger error code the SDKs document. Codes 10000–10004 are produced by the
        /// client SDKs themselves and never sent by a server.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant = $code, )*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            pub fn code(self) -> u32 {
                self as u32
            }

            pub fn from_code(code: u32) -> Option<ErrorCode> {
                match code { $($code => Some(ErrorCode::$variant),)* _ => None }
            }

            /// The description the SDKs document for the code, suitable as `description` in
            /// `onError`.
            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text,)* }
            }
        }
    };
}

error_codes! {
    /// The generic error.
    General = 0, "Something went wrong. Please check the input or required parameters.";
    TransportMessageStructure = 1, "Transport message structure is wrong.";
    UnknownEvent = 2, "Event name is unknown.";
    NotAuthorized = 3, "User is not authorized.";
    ConversationNotFound = 8, "Conversation does not exist.";
    MessageNotFound = 10, "Message with this UUID does not exist in the conversation.";
    MessageDeleted = 11, "Message with this UUID is deleted from the conversation.";
    /// Permission denied, or no access to the conversation.
    AccessDenied = 12, "ACL error.";
    AlreadyParticipant = 13, "User is already in the participants list.";
    PublicJoinUnavailable = 15, "Public join is not available for this conversation.";
    ConversationDeleted = 16, "Conversation with this UUID is deleted.";
    UserValidation = 18, "User validation error.";
    NotParticipant = 19, "User is not in the participants list.";
    ObjectCountInvalid = 21, "Number of requested objects is 0 or larger than allowed by the service.";
    ObjectCountTooLarge = 22, "Number of requested objects is larger than allowed by the service.";
    MessageTooLong = 23, "Message size exceeds the limit of 5000 symbols.";
    SeqTooLarge = 24, "The 'seq' parameter value is greater than currently possible.";
    UserNotFound = 25, "User is not found.";
    NotificationEventInvalid = 26, "The notification event is incorrect.";
    /// Also raised locally by the SDK for `retransmitEvents(from, to)` with `from > to`.
    FromGreaterThanTo = 28, "The 'from' field value is greater than the 'to' field value.";
    ServiceUnavailable = 30, "Messaging service is not available. Try again later.";
    RateLimitPerSecond = 32, "N messages per second limit reached. Please try again later.";
    RateLimitPerMinute = 33, "N messages per minute limit reached. Please try again later.";
    DirectCannotBePublicOrUber = 34, "Direct conversation cannot be public or uber.";
    DirectTwoUsersOnly = 35, "Direct conversation is allowed between two users only.";
    RetransmitAllThreeParams = 36, "Passing the 'eventsFrom', 'eventsTo' and 'count' parameters simultaneously is not allowed. You should use only two of them.";
    DirectAddParticipant = 37, "Adding participant to a direct conversation is not allowed.";
    DirectRemoveParticipant = 38, "Removing participant from a direct conversation is not allowed.";
    DirectJoin = 39, "Joining a direct conversation is not allowed.";
    DirectLeave = 40, "Leaving a direct conversation is not allowed.";
    RetransmitTooFewParams = 41, "Specify at least two parameters: eventsFrom, eventsTo or count.";
    TierExceeded = 42, "Current messaging tier has been exceeded.";
    TierUpgrading = 43, "Messaging tier is being upgraded. Please try again later.";
    LegacyFormat = 44, "The legacy format is not supported.";
    Internal = 500, "Internal error.";
    /// Client only: a call repeated within 10 s was discarded (typing).
    CallDiscarded = 10000, "Method calls within 10s interval from the last call are discarded.";
    /// Client only: local argument validation failed; nothing was sent.
    InvalidArguments = 10001, "Invalid argument(s).";
    /// Client only: no answer within 20 s.
    ResponseTimeout = 10002, "Response timeout.";
    /// Client only.
    NotLoggedIn = 10003, "Client is not logged in.";
    /// Client only.
    ResponseProcessing = 10004, "Failed to process response.";
}

impl ErrorCode {
    /// Whether only client SDKs produce this code (10000–10004).
    pub fn is_client_side(self) -> bool {
        self.code() >= 10000
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.code())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = u32::deserialize(d)?;
        ErrorCode::from_code(code).ok_or_else(|| {
            serde::de::Error::custom(format_args!("unknown messenger error code {code}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code() {
        let codes: Vec<u32> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        let mut expected: Vec<u32> = vec![
            0, 1, 2, 3, 8, 10, 11, 12, 13, 15, 16, 18, 19, 21, 22, 23, 24, 25, 26, 28, 30,
        ];
        expected.extend(32..=44);
        expected.extend([500, 10000, 10001, 10002, 10003, 10004]);
        assert_eq!(codes, expected);
        for &c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
            assert!(!c.description().is_empty());
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, c.code().to_string());
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), c);
            assert_eq!(c.is_client_side(), c.code() >= 10000);
        }
        for gap in [4, 9, 14, 17, 20, 27, 29, 31, 45, 501, 9999, 10005] {
            assert_eq!(ErrorCode::from_code(gap), None, "{gap}");
        }
    }

    #[test]
    fn descriptions_match_the_sdk() {
        // The four the Web SDK's local table holds, and the one quoted from an observed onError.
        assert_eq!(
            ErrorCode::General.description(),
            "Something went wrong. Please check the input or required parameters."
        );
        assert_eq!(
            ErrorCode::FromGreaterThanTo.description(),
            "The 'from' field value is greater than the 'to' field value."
        );
        assert_eq!(
            ErrorCode::InvalidArguments.description(),
            "Invalid argument(s)."
        );
        assert_eq!(
            ErrorCode::ResponseTimeout.description(),
            "Response timeout."
        );
        assert_eq!(ErrorCode::UserNotFound.description(), "User is not found.");
        assert_eq!(
            ErrorCode::UserNotFound.to_string(),
            "User is not found. (25)"
        );
    }
}
