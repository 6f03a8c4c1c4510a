//! Admin HTTP API: JSON provisioning for scripts, served on its own listener.
//!
//! Every request must carry `Authorization: Bearer <admin key>`; the key is compared in constant
//! time, and an empty configured key refuses every request. Errors are JSON,
//! `{"error": {"code": "...", "message": "..."}}`, with the status telling the kind: 400 `invalid`
//! / `invalid_json` / `bad_request`, 401 `unauthorized`, 404 `not_found`, 405
//! `method_not_allowed`, 409 `conflict`, 413 `payload_too_large` (bodies are capped at
//! [`BODY_LIMIT`]), 500 `backend`.
//!
//! | method & path | body / query | success |
//! | --- | --- | --- |
//! | `GET /v1/health` | | 200 `{"status":"ok"}` (after a storage round trip) |
//! | `POST /v1/accounts` | `{"name", "parent"?}` | 201 account |
//! | `GET /v1/accounts` | | 200 `{"accounts":[…]}` |
//! | `POST /v1/apps` | `{"account", "name"}` | 201 app |
//! | `GET /v1/apps` | `?account=` | 200 `{"apps":[…]}` |
//! | `POST /v1/users` | `{"user":"u@app.acc", "password", "display_name"?}` | 201 user |
//! | `GET /v1/users` | `?app=&account=` | 200 `{"users":[…]}` (deleted ones included) |
//! | `GET /v1/users/{user}` | | 200 user |
//! | `DELETE /v1/users/{user}` | | 204 (marks deleted, revokes tokens) |
//! | `PUT /v1/users/{user}/password` | `{"password"}` | 204 (revokes tokens) |
//! | `PUT /v1/users/{user}/display-name` | `{"display_name"}` | 204 |
//! | `DELETE /v1/conversations/{uuid}` | | 204; participants get `onRemoveConversation`; 404 unknown, 410 already removed |
//!
//! `{user}` is `user@app.account` (or the `….voximplant.com` login form). A user is serialised by
//! [`User`]'s `Serialize`, which leaves out the password digests and the private custom data.
//! Unknown fields in a request body are refused (400), so a typo cannot be silently ignored.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::cli::parse_user_ref;
use crate::messaging::Messenger;
use crate::store::{Account, App, NewUser, Store, StoreError, User, UserRef};
use vox_protocol::messaging::ErrorCode;

/// Largest accepted request body, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

type SharedStore = Arc<dyn Store>;

/// The admin API. Serve it on its own listener, e.g. `axum::serve(listener, router(store, key))`.
pub fn router(store: Arc<dyn Store>, admin_key: String) -> Router {
    router_with_messenger(store, admin_key, None)
}

/// The admin API including the Messenger endpoints (`DELETE /v1/conversations/{uuid}`).
pub fn router_with_messenger(
    store: Arc<dyn Store>,
    admin_key: String,
    messenger: Option<Arc<Messenger>>,
) -> Router {
    let key = Arc::new(AdminKey::new(&admin_key));
    let mut routes = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/accounts", get(list_accounts).post(create_account))
        .route("/v1/apps", get(list_apps).post(create_app))
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/users/{user}", get(get_user).delete(delete_user))
        .route("/v1/users/{user}/password", put(set_password))
        .route("/v1/users/{user}/display-name", put(set_display_name));
    if let Some(m) = messenger {
        routes = routes.route(
            "/v1/conversations/{uuid}",
            axum::routing::delete(move |path: Result<Path<String>, PathRejection>| {
                let m = m.clone();
                async move { remove_conversation(m, path).await }
            }),
        );
    }
    routes
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this endpoint",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(key, require_admin_key))
        .with_state(store)
}

/// `DELETE /v1/conversations/{uuid}`: mark the conversation removed; its participants get
/// `onRemoveConversation` (which takes the conversation's last seq). 204, or 404 / 410.
async fn remove_conversation(
    m: Arc<Messenger>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(uuid) =
        path.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    match m.remove_conversation(uuid).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(r) if r.code == ErrorCode::ConversationNotFound => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "conversation not found",
        )),
        Err(r) if r.code == ErrorCode::ConversationDeleted => Err(ApiError::new(
            StatusCode::GONE,
            "gone",
            "conversation already removed",
        )),
        Err(r) => {
            tracing::error!(
                code = r.code.code(),
                "admin API: removing a conversation failed"
            );
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "backend",
                r.description().to_owned(),
            ))
        }
    }
}

// --- authentication ------------------------------------------------------------------------

/// SHA-256 of the configured key (`None` when empty: nothing is accepted). Comparing fixed-size
/// hashes keeps the comparison's time independent of the key's content and length.
struct AdminKey(Option<[u8; 32]>);

impl AdminKey {
    fn new(key: &str) -> Self {
        AdminKey((!key.is_empty()).then(|| Sha256::digest(key.as_bytes()).into()))
    }

    fn accepts(&self, presented: &str) -> bool {
        let Some(expected) = &self.0 else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let diff = expected
            .iter()
            .zip(&presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

async fn require_admin_key(State(key): State<Arc<AdminKey>>, req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match bearer {
        Some(token) if key.accepts(token) => next.run(req).await,
        _ => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong admin key (Authorization: Bearer <key>)",
        )
        .into_response(),
    }
}

// --- errors --------------------------------------------------------------------------------

/// A JSON error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let (status, code) = match &e {
            StoreError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            StoreError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            StoreError::Backend(_) => {
                tracing::error!(error = %e, "admin API: storage failure");
                (StatusCode::INTERNAL_SERVER_ERROR, "backend")
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

// --- extractors ----------------------------------------------------------------------------

/// A JSON body read within [`BODY_LIMIT`], whatever its `Content-Type` (curl's `-d` sends a form
/// type); malformed JSON is a 400, an oversized body a 413, both as JSON errors.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("request body exceeds {BODY_LIMIT} bytes"),
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    rejection.body_text(),
                )
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("invalid JSON body: {e}"),
            )
        })
    }
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))
}

fn user_path(path: Result<Path<String>, PathRejection>) -> ApiResult<UserRef> {
    let Path(user) =
        path.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    parse_user_ref(&user).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", e))
}

/// `?x=` (empty) means no filter.
fn filter(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

// --- handlers ------------------------------------------------------------------------------

async fn health(State(store): State<SharedStore>) -> ApiResult<axum::Json<Value>> {
    store.health_check().await?;
    Ok(axum::Json(json!({"status": "ok"})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccountBody {
    name: String,
    parent: Option<String>,
}

async fn create_account(
    State(store): State<SharedStore>,
    JsonBody(body): JsonBody<NewAccountBody>,
) -> ApiResult<(StatusCode, axum::Json<Account>)> {
    let account = store
        .create_account(&body.name, body.parent.as_deref())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(account)))
}

async fn list_accounts(State(store): State<SharedStore>) -> ApiResult<axum::Json<Value>> {
    let accounts = store.list_accounts().await?;
    Ok(axum::Json(json!({ "accounts": accounts })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAppBody {
    account: String,
    name: String,
}

async fn create_app(
    State(store): State<SharedStore>,
    JsonBody(body): JsonBody<NewAppBody>,
) -> ApiResult<(StatusCode, axum::Json<App>)> {
    let app = store.create_app(&body.account, &body.name).await?;
    Ok((StatusCode::CREATED, axum::Json(app)))
}

#[derive(Deserialize)]
struct AppsQuery {
    account: Option<String>,
}

async fn list_apps(
    State(store): State<SharedStore>,
    q: Result<Query<AppsQuery>, QueryRejection>,
) -> ApiResult<axum::Json<Value>> {
    let q = query(q)?;
    let apps = store.list_apps(filter(&q.account)).await?;
    Ok(axum::Json(json!({ "apps": apps })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    user: String,
    password: String,
    display_name: Option<String>,
}

async fn create_user(
    State(store): State<SharedStore>,
    JsonBody(body): JsonBody<NewUserBody>,
) -> ApiResult<(StatusCode, axum::Json<User>)> {
    let name = parse_user_ref(&body.user)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", e))?;
    let display_name = body.display_name.unwrap_or_else(|| name.user.clone());
    let user = store
        .create_user(NewUser {
            name,
            display_name,
            password: body.password,
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

#[derive(Deserialize)]
struct UsersQuery {
    app: Option<String>,
    account: Option<String>,
}

async fn list_users(
    State(store): State<SharedStore>,
    q: Result<Query<UsersQuery>, QueryRejection>,
) -> ApiResult<axum::Json<Value>> {
    let q = query(q)?;
    let users = store.list_users(filter(&q.app), filter(&q.account)).await?;
    Ok(axum::Json(json!({ "users": users })))
}

async fn get_user(
    State(store): State<SharedStore>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<axum::Json<User>> {
    let name = user_path(path)?;
    match store.user_by_name(&name).await? {
        Some(user) => Ok(axum::Json(user)),
        None => Err(StoreError::NotFound(format!("user '{}'", name.im_name())).into()),
    }
}

async fn delete_user(
    State(store): State<SharedStore>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    store.delete_user(&user_path(path)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

async fn set_password(
    State(store): State<SharedStore>,
    path: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<PasswordBody>,
) -> ApiResult<StatusCode> {
    store
        .set_password(&user_path(path)?, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisplayNameBody {
    display_name: String,
}

async fn set_display_name(
    State(store): State<SharedStore>,
    path: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<DisplayNameBody>,
) -> ApiResult<StatusCode> {
    store
        .set_display_name(&user_path(path)?, &body.display_name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
