//! Session-layer frames of protocol `version=5`.
//!
//! Every WebSocket message is one JSON text frame with a `type` field:
//!
//! | type | direction | fields | meaning |
//! |---|---|---|---|
//! | `id` | S→C | `id` | first frame on every socket: the logical connection id (used for resume) |
//! | `lastrx` | both | `seq` | resume handshake: the last `msg`/`close` seq received from the peer |
//! | `msg` | both | `seq`, `payload` | a payload; seq counts from 1 per direction per logical connection |
//! | `ack` | both | `seq` | cumulative acknowledgement of everything up to `seq` |
//! | `close` | both | `seq` | graceful close; uses the `msg` counter and must be ACKed |
//! | `error` | S→C | — | connection refused (e.g. unknown resume id); the client tries elsewhere |
//!
//! `msg` payloads are kept as raw JSON text ([`RawValue`]) so that a payload encoded once can be
//! framed for many recipients without being parsed or re-serialised.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;

/// WebSocket close codes used by the session layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum CloseCode {
    /// A `msg`/`close` arrived whose seq was not exactly last+1.
    WrongSeq = 4001,
    /// The server failed internally (or refuses to go on: buffer limits, protocol misuse).
    ServerError = 4002,
    /// Normal close by the client after the `close` handshake (the Web SDK uses it for every
    /// close it initiates).
    ClientError = 4003,
    /// The peer did not ACK in time.
    Timeout = 4004,
}

impl CloseCode {
    pub fn as_u16(self) -> u16 {
        self as u16
    }
    pub fn from_u16(v: u16) -> Option<Self> {
        match v {
            4001 => Some(Self::WrongSeq),
            4002 => Some(Self::ServerError),
            4003 => Some(Self::ClientError),
            4004 => Some(Self::Timeout),
            _ => None,
        }
    }
}

/// One decoded session frame.
#[derive(Debug, Clone)]
pub enum Frame {
    Id { id: String },
    LastRx { seq: u64 },
    Msg { seq: u64, payload: Box<RawValue> },
    Ack { seq: u64 },
    Close { seq: u64 },
    Error,
}

impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Frame::Id { id: a }, Frame::Id { id: b }) => a == b,
            (Frame::LastRx { seq: a }, Frame::LastRx { seq: b }) => a == b,
            (Frame::Ack { seq: a }, Frame::Ack { seq: b }) => a == b,
            (Frame::Close { seq: a }, Frame::Close { seq: b }) => a == b,
            (Frame::Error, Frame::Error) => true,
            (Frame::Msg { seq: a, payload: p }, Frame::Msg { seq: b, payload: q }) => {
                a == b && p.get() == q.get()
            }
            _ => false,
        }
    }
}

/// Why a text frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame is not valid JSON: {0}")]
    Json(String),
    #[error("unknown frame type {0:?}")]
    UnknownType(String),
    #[error("frame of type {ty:?} lacks field {field:?}")]
    MissingField {
        ty: &'static str,
        field: &'static str,
    },
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type", borrow)]
    ty: std::borrow::Cow<'a, str>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

impl Frame {
    /// Decode one WebSocket text message.
    pub fn decode(text: &str) -> Result<Frame, FrameError> {
        // The most frequent frame by far, in the exact form every client sends it: no JSON
        // parser needed. Anything else (spacing, field order, leading zeros) takes the full path.
        if let Some(seq) = text
            .strip_prefix(r#"{"type":"ack","seq":"#)
            .and_then(|r| r.strip_suffix('}'))
            .filter(|d| {
                !d.is_empty()
                    && d.bytes().all(|b| b.is_ascii_digit())
                    && (d.len() == 1 || !d.starts_with('0'))
            })
            .and_then(|d| d.parse().ok())
        {
            return Ok(Frame::Ack { seq });
        }
        let raw: RawFrame<'_> =
            serde_json::from_str(text).map_err(|e| FrameError::Json(e.to_string()))?;
        let seq = |ty: &'static str| raw.seq.ok_or(FrameError::MissingField { ty, field: "seq" });
        Ok(match raw.ty.as_ref() {
            "id" => Frame::Id {
                id: raw.id.clone().ok_or(FrameError::MissingField {
                    ty: "id",
                    field: "id",
                })?,
            },
            "lastrx" => Frame::LastRx {
                seq: seq("lastrx")?,
            },
            "ack" => Frame::Ack { seq: seq("ack")? },
            "close" => Frame::Close { seq: seq("close")? },
            "error" => Frame::Error,
            "msg" => Frame::Msg {
                seq: seq("msg")?,
                payload: raw
                    .payload
                    .ok_or(FrameError::MissingField {
                        ty: "msg",
                        field: "payload",
                    })?
                    .to_owned(),
            },
            other => return Err(FrameError::UnknownType(other.to_owned())),
        })
    }

    /// Encode as the exact JSON text the Web SDK sends/accepts.
    pub fn encode(&self) -> String {
        match self {
            Frame::Id { id } => {
                format!(
                    r#"{{"type":"id","id":{}}}"#,
                    serde_json::to_string(id).expect("string")
                )
            }
            Frame::LastRx { seq } => format!(r#"{{"type":"lastrx","seq":{seq}}}"#),
            Frame::Ack { seq } => format!(r#"{{"type":"ack","seq":{seq}}}"#),
            Frame::Close { seq } => format!(r#"{{"type":"close","seq":{seq}}}"#),
            Frame::Error => r#"{"type":"error"}"#.to_owned(),
            Frame::Msg { seq, payload } => encode_msg(*seq, payload.get()),
        }
    }
}

/// Frame an already-encoded JSON payload as a `msg` without re-serialising it.
pub fn encode_msg(seq: u64, payload_json: &str) -> String {
    let mut s = String::with_capacity(payload_json.len() + 32);
    s.push_str(r#"{"type":"msg","seq":"#);
    s.push_str(itoa_u64(seq).as_str());
    s.push_str(r#","payload":"#);
    s.push_str(payload_json);
    s.push('}');
    s
}

fn itoa_u64(v: u64) -> String {
    v.to_string()
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_observed_frames() {
        for text in [
            r#"{"type":"id","id":"1e3619f6-aa1e-4d43-ae67-1b1b00c27574"}"#,
            r#"{"type":"lastrx","seq":0}"#,
            r#"{"type":"msg","seq":1,"payload":{"name":"__createConnection","params":[]}}"#,
            r#"{"type":"ack","seq":4}"#,
            r#"{"type":"close","seq":41}"#,
            r#"{"type":"error"}"#,
        ] {
            let f = Frame::decode(text).unwrap();
            assert_eq!(f.encode(), text);
        }
    }

    #[test]
    fn ack_fast_path_agrees_with_the_parser() {
        for text in [
            r#"{"type":"ack","seq":0}"#,
            r#"{"type":"ack","seq":7}"#,
            r#"{"type":"ack","seq":18446744073709551615}"#,
        ] {
            let seq: u64 = serde_json::from_str::<serde_json::Value>(text).unwrap()["seq"]
                .as_u64()
                .unwrap();
            assert_eq!(Frame::decode(text), Ok(Frame::Ack { seq }));
        }
        for text in [
            r#"{"type":"ack","seq":}"#,
            r#"{"type":"ack","seq":01}"#,
            r#"{"type":"ack","seq":18446744073709551616}"#,
            r#"{"type":"ack","seq":1x}"#,
        ] {
            assert!(Frame::decode(text).is_err(), "{text}");
        }
    }

    #[test]
    fn rejects_bad_frames() {
        assert!(matches!(Frame::decode("{"), Err(FrameError::Json(_))));
        assert!(matches!(
            Frame::decode(r#"{"type":"bogus"}"#),
            Err(FrameError::UnknownType(_))
        ));
        assert!(matches!(
            Frame::decode(r#"{"type":"msg","seq":1}"#),
            Err(FrameError::MissingField { .. })
        ));
        assert!(matches!(
            Frame::decode(r#"{"type":"ack"}"#),
            Err(FrameError::MissingField { .. })
        ));
        assert!(matches!(
            Frame::decode(r#"{"type":"ack","seq":-1}"#),
            Err(FrameError::Json(_))
        ));
        assert!(matches!(
            Frame::decode(r#"[1,2]"#),
            Err(FrameError::Json(_))
        ));
    }
}
