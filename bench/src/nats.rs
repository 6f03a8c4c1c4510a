//! The baseline: the same fan-out through NATS core (Debian's `nats-server`), spoken with the
//! plain NATS text protocol (`CONNECT`, `SUB`, `PUB`, `MSG`, `PING`/`PONG`) over TCP.

use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot};

/// Publishes on a subscribed connection.
#[derive(Clone)]
pub struct Conn {
    tx: mpsc::UnboundedSender<Vec<u8>>,
}

impl Conn {
    pub fn publish(&self, subject: &str, payload: &[u8]) -> bool {
        let mut frame = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
        frame.extend_from_slice(payload);
        frame.extend_from_slice(b"\r\n");
        self.tx.send(frame).is_ok()
    }
}

/// Connect, subscribe to `subject`, wait until the server confirmed the subscription (PONG), then
/// hand every message payload to `on_msg`.
pub async fn connect(
    addr: &str,
    subject: &str,
    mut on_msg: impl FnMut(&[u8]) + Send + 'static,
) -> Result<Conn, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("nats connect {addr}: {e}"))?;
    tcp.set_nodelay(true).ok();
    let (read, mut write) = tcp.into_split();
    let mut read = BufReader::with_capacity(64 * 1024, read);
    let hello = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"echo\":true}}\r\nSUB {subject} 1\r\nPING\r\n"
    );
    write
        .write_all(hello.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (pong_tx, pong_rx) = oneshot::channel::<()>();
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(writer(write, rx, ctl_rx));
    tokio::spawn(async move {
        let mut pong = Some(pong_tx);
        let mut line = String::new();
        let mut payload = Vec::new();
        loop {
            line.clear();
            match read.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let l = line.trim_end();
            if let Some(rest) = l.strip_prefix("MSG ") {
                // MSG <subject> <sid> [reply-to] <#bytes>
                let Some(len) = rest
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    return;
                };
                payload.resize(len + 2, 0);
                if read.read_exact(&mut payload).await.is_err() {
                    return;
                }
                on_msg(&payload[..len]);
            } else if l == "PING" {
                let _ = ctl_tx.send(b"PONG\r\n".to_vec());
            } else if l == "PONG" {
                if let Some(p) = pong.take() {
                    let _ = p.send(());
                }
            } else if l.starts_with("-ERR") {
                eprintln!("nats: {l}");
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), pong_rx)
        .await
        .map_err(|_| "nats: no PONG".to_string())?
        .map_err(|_| "nats: connection ended".to_string())?;
    Ok(Conn { tx })
}

async fn writer(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    mut ctl: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        tokio::select! {
            f = rx.recv() => match f { Some(f) => buf.extend_from_slice(&f), None => return },
            f = ctl.recv() => match f { Some(f) => buf.extend_from_slice(&f), None => return },
        }
        while let Ok(f) = rx.try_recv() {
            buf.extend_from_slice(&f);
        }
        if w.write_all(&buf).await.is_err() {
            return;
        }
        buf.clear();
    }
}
