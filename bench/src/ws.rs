//! A lean load-generator client for vox-messenger-server: one WebSocket, the `version=5`
//! session driven by `vox_protocol::session` (so ACKs, seq checks and pings are exactly the SDK's
//! rules), a password login, then raw messaging payloads in and out.

use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use vox_protocol::auth::CredentialType;
use vox_protocol::rpc::{ClientRpc, Login, LoginOptions};
use vox_protocol::session::{Session, SessionConfig, SessionEvent};

/// Sends payloads on an established, logged-in connection.
#[derive(Clone)]
pub struct Conn {
    tx: mpsc::UnboundedSender<Arc<str>>,
}

impl Conn {
    pub fn send(&self, payload: Arc<str>) -> bool {
        self.tx.send(payload).is_ok()
    }
}

/// Open `ws://addr/platform`, log in as `login` with `password`, then hand every messaging
/// payload the server sends to `on_payload` (on the connection's own task).
pub async fn connect(
    addr: &str,
    login: &str,
    password: &str,
    mut on_payload: impl FnMut(&str) + Send + 'static,
) -> Result<Conn, String> {
    let url = format!("ws://{addr}/platform?version=5&client_version=bench&im_version=2");
    let (ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .map_err(|e| format!("connect {url}: {e}"))?;
    let (mut sink, mut stream) = ws.split();
    let config = SessionConfig {
        // ACK often enough that the server's un-ACKed buffer (4096 frames) never fills at
        // 30 k deliveries/s, rarely enough to cost little.
        ack_delay: Duration::from_millis(20),
        ack_every: 256,
        ..SessionConfig::client()
    };
    let now = Instant::now();
    let mut session = Session::new(config, None, now);
    session.transport_up(now);
    let login_payload: Arc<str> = ClientRpc::Login(Login::with_password(
        login,
        password,
        CredentialType::Md5,
        LoginOptions::new(),
    ))
    .to_json()
    .into();
    let (tx, mut rx) = mpsc::unbounded_channel::<Arc<str>>();
    let (ready_tx, ready_rx) = oneshot::channel::<Result<(), String>>();
    let login_name = login.to_owned();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let fail = |ready: &mut Option<oneshot::Sender<Result<(), String>>>, why: String| {
            if let Some(r) = ready.take() {
                let _ = r.send(Err(why));
            }
        };
        loop {
            let deadline = session.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                m = stream.next() => match m {
                    Some(Ok(Message::Text(t))) => session.handle_text(t.as_str(), Instant::now()),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        fail(&mut ready, format!("{login_name}: socket closed"));
                        return;
                    }
                    Some(Ok(_)) => {}
                },
                p = rx.recv(), if ready.is_none() => match p {
                    Some(p) => { let _ = session.send(p, Instant::now()); }
                    None => return,
                },
                _ = sleep => session.handle_timeout(Instant::now()),
            }
            while let Some(ev) = session.poll_event() {
                match ev {
                    SessionEvent::Established { .. } => {
                        let _ = session.send(login_payload.clone(), Instant::now());
                    }
                    SessionEvent::Message { payload, .. } => {
                        let text = payload.get();
                        if ready.is_some() {
                            if text.contains("\"loginSuccessful\"") {
                                let _ = ready.take().unwrap().send(Ok(()));
                            } else if text.contains("\"loginFailed\"") {
                                fail(&mut ready, format!("{login_name}: {text}"));
                                return;
                            }
                        } else {
                            on_payload(text);
                        }
                    }
                    SessionEvent::Failed { code, reason } => {
                        eprintln!("{login_name}: session failed {code:?}: {reason}");
                        fail(&mut ready, reason);
                        return;
                    }
                    SessionEvent::Refused | SessionEvent::PeerClosed | SessionEvent::Closed => {
                        fail(&mut ready, format!("{login_name}: connection ended"));
                        return;
                    }
                    SessionEvent::ConnectionId(_) => {}
                }
            }
            let mut wrote = false;
            while let Some(frame) = session.poll_transmit() {
                if sink.feed(Message::text(frame)).await.is_err() {
                    return;
                }
                wrote = true;
            }
            if wrote && sink.flush().await.is_err() {
                return;
            }
        }
    });
    match tokio::time::timeout(Duration::from_secs(30), ready_rx).await {
        Ok(Ok(Ok(()))) => Ok(Conn { tx }),
        Ok(Ok(Err(e))) => Err(e),
        Ok(Err(_)) => Err(format!("{login}: connection task ended")),
        Err(_) => Err(format!("{login}: login timed out")),
    }
}
