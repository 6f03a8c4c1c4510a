//! The WebSocket transport: one task per socket, reporting to the client's connection actor.
//!
//! The transport knows nothing of the session layer: it opens a socket (`ws://` or `wss://`),
//! forwards every text frame it reads, writes what the actor gives it, and reports when the
//! socket is gone. The actor (in `client/`) drives `vox_protocol::session` with that. Each socket
//! has a generation number so that late reports of an old socket are ignored.

mod tls;

pub use tls::TlsTrust;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;

use crate::error::Error;

pub(crate) use tls::client_config;

/// What a socket task reports.
#[derive(Debug)]
pub(crate) enum SocketEvent {
    Opened { generation: u64 },
    OpenFailed { generation: u64, error: String },
    Text { generation: u64, text: String },
    Closed { generation: u64, reason: String },
}

/// What the actor tells a socket task.
#[derive(Debug)]
pub(crate) enum SocketCmd {
    Text(String),
    /// Send a close frame with this code and end.
    Close(u16, &'static str),
}

/// A live (or opening) socket.
pub(crate) struct Socket {
    pub generation: u64,
    tx: mpsc::UnboundedSender<SocketCmd>,
    task: tokio::task::JoinHandle<()>,
}

impl Socket {
    pub fn send(&self, text: String) {
        let _ = self.tx.send(SocketCmd::Text(text));
    }

    /// Close gracefully with a WebSocket close code (the task ends after writing it).
    pub fn close(self, code: u16, reason: &'static str) {
        let _ = self.tx.send(SocketCmd::Close(code, reason));
    }

    /// Drop the connection at once, without a close frame.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Open a socket to `url` in a new task. `tls` is used for `wss://`.
pub(crate) fn open(
    generation: u64,
    url: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    open_timeout: Duration,
    events: mpsc::UnboundedSender<SocketEvent>,
) -> Socket {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = crate::runtime::get().spawn(run(generation, url, tls, open_timeout, events, rx));
    Socket {
        generation,
        tx,
        task,
    }
}

async fn run(
    generation: u64,
    url: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    open_timeout: Duration,
    events: mpsc::UnboundedSender<SocketEvent>,
    mut cmds: mpsc::UnboundedReceiver<SocketCmd>,
) {
    let connector = tls.map(tokio_tungstenite::Connector::Rustls);
    let opening = tokio_tungstenite::connect_async_tls_with_config(&url, None, true, connector);
    let mut ws = match tokio::time::timeout(open_timeout, opening).await {
        Ok(Ok((ws, _response))) => ws,
        Ok(Err(e)) => {
            let _ = events.send(SocketEvent::OpenFailed {
                generation,
                error: e.to_string(),
            });
            return;
        }
        Err(_) => {
            let _ = events.send(SocketEvent::OpenFailed {
                generation,
                error: format!("no WebSocket within {open_timeout:?}"),
            });
            return;
        }
    };
    tracing::debug!(generation, "socket open");
    let _ = events.send(SocketEvent::Opened { generation });
    let reason = loop {
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(SocketCmd::Text(text)) => {
                    if let Err(e) = ws.send(WsMessage::text(text)).await {
                        break format!("write failed: {e}");
                    }
                }
                Some(SocketCmd::Close(code, reason)) => {
                    let frame = CloseFrame { code: WsCloseCode::from(code), reason: reason.into() };
                    let _ = ws.close(Some(frame)).await;
                    break format!("closed by us ({code})");
                }
                None => {
                    let _ = ws.close(None).await;
                    break "dropped".into();
                }
            },
            msg = ws.next() => match msg {
                Some(Ok(WsMessage::Text(text))) => {
                    let _ = events.send(SocketEvent::Text { generation, text: text.as_str().to_owned() });
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    break match frame {
                        Some(f) => format!("closed by the server ({} {})", u16::from(f.code), f.reason),
                        None => "closed by the server".into(),
                    };
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break format!("read failed: {e}"),
                None => break "socket ended".into(),
            },
        }
    };
    tracing::debug!(generation, %reason, "socket gone");
    let _ = events.send(SocketEvent::Closed { generation, reason });
}

/// The URL of the platform endpoint on `server` (`ws://host:port` or `wss://host:port`, or a bare
/// `host:port`, which means `wss://`), resuming `resume_id` if given. The query is the Web SDK's.
pub(crate) fn platform_url(
    server: &str,
    client_version: &str,
    client_platform: &str,
    resume_id: Option<&str>,
) -> Result<String, Error> {
    let base = if server.starts_with("ws://") || server.starts_with("wss://") {
        server.trim_end_matches('/').to_owned()
    } else if server.contains("://") {
        return Err(Error::invalid(format!(
            "server {server:?}: only ws:// and wss:// are supported"
        )));
    } else {
        format!("wss://{}", server.trim_end_matches('/'))
    };
    let mut url = format!(
        "{base}/platform?version=5&client_version={client_version}&video=false&ccheck=false&client_platform={client_platform}&im_version=2&acd_version=1"
    );
    if let Some(id) = resume_id {
        url.push_str("&id=");
        url.push_str(id);
    }
    url.push_str("&features=1");
    Ok(url)
}

/// The reconnect schedule: the Web SDK's delays (immediately, 200 ms, 200 ms, 1 s ×3, 5 s ×4),
/// each non-zero delay spread by ±20 % jitter so that many clients do not come back in step.
#[derive(Debug, Clone)]
pub struct ReconnectPolicy {
    pub delays: Vec<Duration>,
    /// Fraction of each delay used as jitter (0.2 = ±20 %).
    pub jitter: f64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        let ms = Duration::from_millis;
        ReconnectPolicy {
            delays: vec![
                ms(0),
                ms(200),
                ms(200),
                ms(1000),
                ms(1000),
                ms(1000),
                ms(5000),
                ms(5000),
                ms(5000),
                ms(5000),
            ],
            jitter: 0.2,
        }
    }
}

impl ReconnectPolicy {
    /// The delay before attempt `n` (0-based), or `None` when the attempts are exhausted.
    pub(crate) fn delay(&self, attempt: usize) -> Option<Duration> {
        let base = *self.delays.get(attempt)?;
        if base.is_zero() || self.jitter <= 0.0 {
            return Some(base);
        }
        let j = self.jitter.min(1.0);
        let factor = rand::rng().random_range((1.0 - j)..=(1.0 + j));
        Some(base.mul_f64(factor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_matches_the_web_sdk_shape() {
        let u = platform_url("ws://127.0.0.1:1", "v", "p", Some("abc")).unwrap();
        assert_eq!(
            u,
            "ws://127.0.0.1:1/platform?version=5&client_version=v&video=false&ccheck=false&client_platform=p&im_version=2&acd_version=1&id=abc&features=1"
        );
        assert!(
            platform_url("h:1", "v", "p", None)
                .unwrap()
                .starts_with("wss://h:1/platform?")
        );
        assert!(platform_url("http://h", "v", "p", None).is_err());
    }

    #[test]
    fn schedule_has_jitter_within_bounds() {
        let p = ReconnectPolicy::default();
        assert_eq!(p.delay(0), Some(Duration::ZERO));
        for _ in 0..100 {
            let d = p.delay(6).unwrap();
            assert!(d >= Duration::from_millis(4000) && d <= Duration::from_millis(6000));
        }
        assert_eq!(p.delay(10), None);
    }
}
