//! The listeners: HTTPS/WSS (or plain) on the main address with `/platform` (the WebSocket
//! endpoint the SDKs connect to) and a static folder at `/`; the admin API on its own address.
//!
//! Each accepted WebSocket is handed to [`crate::connection`], which owns the logical connection
//! (the session layer state machine) across socket drops and resumes.

use crate::connection;
use crate::state::Shared;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// The peer address of the HTTP connection, put into each request's extensions.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// The main router: `/platform` plus the optional static folder.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut r = Router::new().route("/platform", get(platform));
    if let Some(root) = &shared.config.web_root {
        r = r.fallback_service(ServeDir::new(root).append_index_html_on_directories(true));
    }
    r.with_state(shared)
}

const WRITE_BUFFER: usize = 64 * 1024;
const READ_BUFFER: usize = 1024;

async fn platform(
    ws: WebSocketUpgrade,
    Query(query): Query<HashMap<String, String>>,
    State(shared): State<Arc<Shared>>,
    axum::Extension(Peer(peer)): axum::Extension<Peer>,
) -> Response {
    let max = shared.config.max_message_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        // Bound what a slow reader can make us buffer; beyond it a write fails and the transport
        // is dropped (the session stays resumable).
        .write_buffer_size(WRITE_BUFFER)
        // tungstenite keeps this much read buffer per connection and zero-fills it before every
        // read(2); its default (128 KiB) made memset the largest cost of a busy connection
        // (clients send small frames: requests and ACKs) and a large part of an idle one.
        // Larger messages still grow the buffer as needed.
        .read_buffer_size(READ_BUFFER)
        // tungstenite requires max > write buffer; it must also hold one whole frame.
        .max_write_buffer_size((4 * max).max(2 * WRITE_BUFFER) + max)
        .on_upgrade(move |socket| connection::accept(shared, socket, peer, query))
}

/// Serve `router` on `listener`, over TLS when `tls` is given, until `shutdown` flips to true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(Peer(peer));
                    router.clone().oneshot(req)
                },
            );
            let builder = auto::Builder::new(TokioExecutor::new());
            let result = match tls {
                Some(acceptor) => match tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    acceptor.accept(stream),
                )
                .await
                {
                    Ok(Ok(tls_stream)) => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(tls_stream), service)
                            .await
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                },
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
}

/// Serve a plain (non-TLS) router such as the admin API.
pub async fn serve_plain(listener: TcpListener, router: Router, shutdown: watch::Receiver<bool>) {
    serve(listener, router, None, shutdown).await
}
