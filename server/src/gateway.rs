//! The listeners: HTTPS/WSS (or plain) on the main address with `/platform` (the WebSocket
//! endpoint the SDKs connect to) and a static folder at `/`; the admin API on its own address.
//!
//! Each accepted WebSocket is handed to [`crate::connection`], which owns the logical connection
//! (the session layer state machine) across socket drops and resumes.

use crate::connection;
use crate::state::Shared;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
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

/// The WebSocket upgrade (RFC 6455 section 4.2), done here rather than by axum's extractor so
/// that the connection owns the raw stream: it reads frames through tungstenite but writes its
/// outgoing frames itself, many per write (see `connection::Connection::flush`).
async fn platform(
    Query(query): Query<HashMap<String, String>>,
    State(shared): State<Arc<Shared>>,
    axum::Extension(Peer(peer)): axum::Extension<Peer>,
    mut req: axum::extract::Request,
) -> Response {
    let h = req.headers();
    if req.method() != Method::GET {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "WebSocket upgrade needs GET",
        )
            .into_response();
    }
    if !header_contains(h, header::CONNECTION, "upgrade")
        || !header_eq(h, header::UPGRADE, "websocket")
        || !header_eq(h, header::SEC_WEBSOCKET_VERSION, "13")
    {
        return (StatusCode::BAD_REQUEST, "not a WebSocket upgrade").into_response();
    }
    let Some(key) = h.get(header::SEC_WEBSOCKET_KEY) else {
        return (StatusCode::BAD_REQUEST, "Sec-WebSocket-Key missing").into_response();
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return (StatusCode::UPGRADE_REQUIRED, "connection not upgradable").into_response();
    };
    let max = shared.config.max_message_bytes;
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        // Bound what a slow reader can make tungstenite buffer (its own frames: pongs, close).
        .write_buffer_size(WRITE_BUFFER)
        // tungstenite keeps this much read buffer per connection and zero-fills it before every
        // read(2); its default (128 KiB) made memset the largest cost of a busy connection
        // (clients send small frames: requests and ACKs) and a large part of an idle one.
        // Larger messages still grow the buffer as needed.
        .read_buffer_size(READ_BUFFER)
        // tungstenite requires max > write buffer; it must also hold one whole frame.
        .max_write_buffer_size((4 * max).max(2 * WRITE_BUFFER) + max);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "WebSocket upgrade failed");
                return;
            }
        };
        let socket = Box::new(
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await,
        );
        connection::accept(shared, socket, peer, query).await
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(axum::body::Body::empty())
        .expect("valid response")
}

fn header_eq(headers: &HeaderMap, key: HeaderName, value: &str) -> bool {
    headers
        .get(&key)
        .is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

fn header_contains(headers: &HeaderMap, key: HeaderName, value: &str) -> bool {
    headers.get(&key).is_some_and(|h| {
        h.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(value.as_bytes()))
    })
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
