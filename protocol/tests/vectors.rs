//! Wire-fidelity tests against the frames the official Web SDK 4.13 sent
//! (`shared/protocol/vectors/websdk-4.13-requests.jsonl`) and the server replies quoted in
//! `shared/protocol/transport-and-login.md` and `messaging.md`.
//!
//! The vectors are read from the repository's copy (`protocol/vectors/`), or from
//! `$VOX_SHARED_DIR/protocol/vectors/` when that variable is set.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use vox_protocol::auth::{self, CredentialType};
use vox_protocol::frames::Frame;
use vox_protocol::messaging::{
    Action, ClientRequest, ConversationRef, CreateConversation, EditConversation, EditMessage,
    EditUser, Empty, EnvelopeFields, ErrorCode, EventName, EventObject, EventPayload,
    GetConversations, GetUsers, ManageNotifications, ManageParticipants, ManageSubscribes, Message,
    MessagingError, Participant, Permissions, PresenceMessage, RemoveMessage, RemoveParticipants,
    Request, RetransmitRequest, RetransmittedEvent, SendMessage, ServerMessage, StatusMessage,
    TypingMessage, User, UserRef, encode_event,
};
use vox_protocol::rpc::{
    ClientRpc, GenerateOneTimeKey, Login, LoginCredential, LoginFailed, LoginFailureCode,
    LoginOptions, LoginStage2, LoginSuccessful, OAuthTokens, OneTimeKeyLogin, PayloadKind,
    RefreshOauthToken, RefreshOauthTokenFailed, RefreshOauthTokenSuccessful, RpcCall, ServerRpc,
    payload_kind,
};

const VECTOR_FILE: &str = "protocol/vectors/websdk-4.13-requests.jsonl";
const VECTOR_COUNT: usize = 48;

fn shared_dir() -> PathBuf {
    match std::env::var_os("VOX_SHARED_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        // The repository's copy (`protocol/vectors/`), laid out like the shared folder.
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."),
    }
}

struct Vector {
    line: usize,
    call: String,
    /// The `msg` payload as compact JSON text, keys in the SDK's order.
    payload: String,
}

fn load_vectors() -> Vec<Vector> {
    let path = shared_dir().join(VECTOR_FILE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} (set VOX_SHARED_DIR?): {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
            let call = v["websdk_call"].as_str().expect("websdk_call").to_owned();
            // The file is pretty-spaced; the frame as the SDK wrote it is the compact form,
            // and preserve_order keeps its key order.
            let frame_text = serde_json::to_string(&v["frame"]).unwrap();
            let Frame::Msg { payload, .. } = Frame::decode(&frame_text).expect("frame decodes")
            else {
                panic!("line {}: not a msg frame", i + 1)
            };
            Vector {
                line: i + 1,
                call,
                payload: payload.get().to_owned(),
            }
        })
        .collect()
}

fn assert_same_json(ours: &str, theirs: &str, what: &str) {
    assert_eq!(
        ours, theirs,
        "{what}: encoding differs from the SDK's frame"
    );
    let a: Value = serde_json::from_str(ours).unwrap();
    let b: Value = serde_json::from_str(theirs).unwrap();
    assert_eq!(a, b, "{what}");
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

#[test]
fn every_vector_decodes_and_re_encodes_exactly() {
    let vectors = load_vectors();
    assert_eq!(vectors.len(), VECTOR_COUNT, "vector file changed size");
    let mut rpc_kinds = BTreeMap::<String, usize>::new();
    let mut actions = BTreeSet::new();
    let mut covered = 0;
    for v in &vectors {
        let what = format!("line {} ({})", v.line, v.call);
        match payload_kind(&v.payload).unwrap() {
            PayloadKind::Rpc => {
                let call = RpcCall::from_json(&v.payload).unwrap();
                let typed = ClientRpc::parse(&call).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_same_json(&typed.to_json(), &v.payload, &what);
                assert_eq!(typed.to_call(), call, "{what}");
                let kind = match &typed {
                    ClientRpc::Login(Login {
                        credential: LoginCredential::Password { kind, .. },
                        ..
                    }) => {
                        format!("login/{kind}")
                    }
                    ClientRpc::Login(Login {
                        credential: LoginCredential::AccessToken(_),
                        ..
                    }) => "login/token".into(),
                    ClientRpc::RefreshOauthToken(r) if r.device_token.is_some() => {
                        "refresh/object".into()
                    }
                    ClientRpc::RefreshOauthToken(_) => "refresh/string".into(),
                    other => other.name().to_owned(),
                };
                *rpc_kinds.entry(kind).or_default() += 1;
            }
            PayloadKind::Messaging => {
                let req =
                    ClientRequest::from_json(&v.payload).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_same_json(&req.to_json(), &v.payload, &what);
                // The serde path (through a Value) agrees with the borrowed fast path.
                let via_serde: ClientRequest = serde_json::from_str(&v.payload).unwrap();
                assert_eq!(via_serde, req, "{what}");
                let orig: Value = serde_json::from_str(&v.payload).unwrap();
                assert_eq!(orig["payload"]["@type"], req.action().at_type(), "{what}");
                assert!(req.action().sent_by_web_sdk(), "{what}");
                actions.insert(req.action().as_str());
            }
        }
        covered += 1;
    }
    assert_eq!(covered, VECTOR_COUNT, "some vectors were skipped");
    let expected_rpc: BTreeMap<String, usize> = [
        ("login/md5", 3),
        ("login/sha256", 1),
        ("login/token", 2),
        ("loginGenerateOneTimeKey", 1),
        ("loginUsingOneTimeKey", 1),
        ("loginStage2", 1),
        ("refresh/string", 2),
        ("refresh/object", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(rpc_kinds, expected_rpc);
    let sent: BTreeSet<&str> = Action::ALL
        .iter()
        .filter(|a| a.sent_by_web_sdk())
        .map(|a| a.as_str())
        .collect();
    assert_eq!(actions, sent, "every action the Web SDK sends has a vector");
}

const LOGIN: &str = "user1@app.acc.voximplant.com";
const CONV: &str = "67983249-cf74-435d-9b3a-1e7ade7ab84a";
const MSG: &str = "4c8d2ebc-bbec-4230-aaa8-a5222a8b25e5";

/// The same call made through this crate's constructors, as our client makes it.
enum Built {
    Rpc(ClientRpc),
    Msg(Request),
}

fn built_by_our_api(call: &str) -> Built {
    use Built::{Msg, Rpc};
    let opts = LoginOptions::new;
    let me = auth::sdk_user_name(LOGIN);
    match call {
        "login(password)" => Rpc(ClientRpc::Login(Login::with_password(
            LOGIN,
            "secret",
            CredentialType::Md5,
            opts(),
        ))),
        "login(wrong password)" => Rpc(ClientRpc::Login(Login::with_password(
            LOGIN,
            "wrong",
            CredentialType::Md5,
            opts(),
        ))),
        "login(unknown user)" => Rpc(ClientRpc::Login(Login::with_password(
            "ghost@app.acc.voximplant.com",
            "x",
            CredentialType::Md5,
            opts(),
        ))),
        "login(password) sha256" => Rpc(ClientRpc::Login(Login::with_password(
            LOGIN,
            "secret",
            CredentialType::Sha256,
            opts().with("receiveCalls", false),
        ))),
        "loginWithToken(bad token)" => Rpc(ClientRpc::Login(Login::with_token(
            LOGIN,
            "not-a-token",
            opts(),
        ))),
        "loginWithToken(accessToken)" => Rpc(ClientRpc::Login(Login::with_token(
            LOGIN,
            "at-02c5d778-8456-4a1e-9a71-e036704219b7",
            opts().with("receiveCalls", true),
        ))),
        "loginWithCode (hidden API)" => Rpc(ClientRpc::LoginStage2(LoginStage2::new(
            LOGIN,
            "123456",
            opts().with("receiveCalls", false),
        ))),
        "requestOneTimeLoginKey()" => Rpc(ClientRpc::LoginGenerateOneTimeKey(GenerateOneTimeKey {
            login: LOGIN.into(),
        })),
        "loginWithOneTimeKey(hash)" => Rpc(ClientRpc::LoginUsingOneTimeKey(OneTimeKeyLogin::new(
            LOGIN,
            "936efb46bd544b4f851e9c6ab3ea4b25",
            opts()
                .with("receiveCalls", true)
                .with("deviceToken", "device-token-1"),
        ))),
        "tokenRefresh(user, refreshToken)" => {
            Rpc(ClientRpc::RefreshOauthToken(RefreshOauthToken {
                login: LOGIN.into(),
                refresh_token: "rt-97b8bf55-29e7-4cbf-8a30-f84a57a6a614".into(),
                device_token: None,
            }))
        }
        "tokenRefresh(user, refreshToken, deviceToken)" => {
            Rpc(ClientRpc::RefreshOauthToken(RefreshOauthToken {
                login: LOGIN.into(),
                refresh_token: "rt-5c11ba3e-6aa9-4d61-ac5d-4ceb4b3ccb9b".into(),
                device_token: Some("device-token-1".into()),
            }))
        }
        "tokenRefresh(bad token)" => Rpc(ClientRpc::RefreshOauthToken(RefreshOauthToken {
            login: LOGIN.into(),
            refresh_token: "nope".into(),
            device_token: None,
        })),
        "getUser(getMe())" | "getUser during/after transport drop" => {
            Msg(Request::GetUser(UserRef::by_name(me)))
        }
        "getUserById(1002)" => Msg(Request::GetUser(UserRef::by_id(1002))),
        "getUsers([user2,user3])" => Msg(Request::GetUsers(GetUsers {
            users: vec![
                UserRef::by_name("user2@app.acc"),
                UserRef::by_name("user3@app.acc"),
            ],
        })),
        "getUsersById([1002,1003])" => Msg(Request::GetUsers(GetUsers {
            users: vec![UserRef::by_id(1002), UserRef::by_id(1003)],
        })),
        "getUser(unknown) -> onError" => Msg(Request::GetUser(UserRef::by_name("nobody@app.acc"))),
        "editUser(custom, private)" => Msg(Request::EditUser(EditUser {
            custom_data: Some(obj(json!({"color": "blue"}))),
            private_custom_data: Some(obj(json!({"secret": 1}))),
        })),
        "setStatus(true)" => Msg(Request::SetStatus(PresenceMessage { online: true })),
        "subscribe([1002])" => Msg(Request::Subscribe(ManageSubscribes::users(vec![1002]))),
        "getSubscriptionList()" => Msg(Request::GetSubscriptionList(Empty {})),
        "unsubscribe([1002])" => Msg(Request::Unsubscribe(ManageSubscribes::users(vec![1002]))),
        "unsubscribe([1002], all=true)" => Msg(Request::Unsubscribe(ManageSubscribes::all())),
        "manageNotification([SendMessage,EditMessage])" => {
            Msg(Request::ManageNotification(ManageNotifications {
                notifications: vec![Some("onSendMessage".into()), Some("onEditMessage".into())],
            }))
        }
        "createConversation(...)" => Msg(Request::CreateConversation(CreateConversation::new(
            vec![Participant::new(
                1002,
                Permissions::WRITE | Permissions::EDIT,
            )],
            "Test conversation",
            false,
            true,
            Some(false),
            obj(json!({"topic": "spike"})),
        ))),
        // Flags 0 go out as 7.
        "createConversation(direct)" => Msg(Request::CreateConversation(CreateConversation::new(
            vec![Participant::new(1003, Permissions::NONE)],
            "",
            true,
            false,
            Some(false),
            Map::new(),
        ))),
        "getConversation(uuid)" => Msg(Request::GetConversation(ConversationRef::new(CONV))),
        "getConversations([uuid])" => Msg(Request::GetConversations(GetConversations {
            uuid: vec![CONV.into()],
        })),
        "getPublicConversations()" => Msg(Request::GetPublicConversations(Empty {})),
        "getConversation(missing) -> onError" => Msg(Request::GetConversation(
            ConversationRef::new("00000000-0000-0000-0000-000000000000"),
        )),
        "leaveConversation(uuid)" => Msg(Request::LeaveConversation(ConversationRef::new(CONV))),
        "joinConversation(uuid)" => Msg(Request::JoinConversation(ConversationRef::new(CONV))),
        "conversation.setTitle()" => Msg(Request::EditConversation(EditConversation::new(
            CONV,
            "Renamed",
            true,
            obj(json!({"topic": "spike"})),
        ))),
        "conversation.setPublicJoin(false)" => Msg(Request::EditConversation(
            EditConversation::new(CONV, "Renamed", false, obj(json!({"topic": "spike"}))),
        )),
        "conversation.setCustomData()" | "conversation.update()" => Msg(Request::EditConversation(
            EditConversation::new(CONV, "Renamed", false, obj(json!({"topic": "changed"}))),
        )),
        "conversation.addParticipants([1003])" => {
            Msg(Request::AddParticipants(ManageParticipants {
                uuid: CONV.into(),
                participants: vec![Participant::new(1003, Permissions::WRITE)],
            }))
        }
        "conversation.editParticipants([1003])" => {
            Msg(Request::EditParticipants(ManageParticipants {
                uuid: CONV.into(),
                participants: vec![Participant::new(
                    1003,
                    Permissions::WRITE | Permissions::EDIT | Permissions::MANAGE_PARTICIPANTS,
                )],
            }))
        }
        "conversation.removeParticipants([1003])" => {
            Msg(Request::RemoveParticipants(RemoveParticipants {
                uuid: CONV.into(),
                participants: vec![1003],
            }))
        }
        "conversation.sendMessage(text,payload)" => Msg(Request::SendMessage(SendMessage::new(
            CONV,
            Some("hello world".into()),
            vec![obj(json!({"type": "card", "id": 7}))],
        ))),
        "message.update()" => Msg(Request::EditMessage(EditMessage::new(
            MSG,
            CONV,
            Some("hello again".into()),
            vec![obj(json!({"edited": true}))],
        ))),
        "conversation.typing()" => Msg(Request::TypingMessage(TypingMessage {
            conversation: CONV.into(),
        })),
        "conversation.markAsRead(seq)" => Msg(Request::IsRead(StatusMessage {
            conversation: CONV.into(),
            seq: 1,
            status: None,
        })),
        "conversation.retransmitEvents(1,3)" => Msg(Request::RetransmitEvents(
            RetransmitRequest::range(CONV, 1, 3),
        )),
        "conversation.retransmitEventsFrom(2,2)" => Msg(Request::RetransmitEvents(
            RetransmitRequest::from_seq(CONV, 2, 2),
        )),
        "conversation.retransmitEventsTo(3,2)" => Msg(Request::RetransmitEvents(
            RetransmitRequest::to_seq(CONV, 3, 2),
        )),
        "message.remove()" => Msg(Request::RemoveMessage(RemoveMessage {
            uuid: MSG.into(),
            conversation: CONV.into(),
        })),
        other => panic!("no builder for vector {other:?}"),
    }
}

#[test]
fn our_constructors_produce_the_sdk_frames() {
    let vectors = load_vectors();
    let mut checked = 0;
    for v in &vectors {
        let what = format!("line {} ({})", v.line, v.call);
        let ours = match built_by_our_api(&v.call) {
            Built::Rpc(rpc) => rpc.to_json(),
            Built::Msg(request) => {
                // Our client makes a fresh uuid; take the SDK's to compare the rest byte for byte.
                let fresh = ClientRequest::new(request.clone());
                assert_eq!(fresh.request_uuid.len(), 36);
                assert_eq!(
                    uuid::Uuid::parse_str(&fresh.request_uuid)
                        .unwrap()
                        .get_version_num(),
                    4
                );
                let orig: Value = serde_json::from_str(&v.payload).unwrap();
                let uuid = orig["request_uuid"].as_str().unwrap();
                ClientRequest::with_uuid(request, uuid).to_json()
            }
        };
        assert_same_json(&ours, &v.payload, &what);
        checked += 1;
    }
    assert_eq!(checked, VECTOR_COUNT);
}

#[test]
fn login_vectors_carry_the_documented_digests() {
    let vectors = load_vectors();
    let login = |call: &str| {
        let v = vectors.iter().find(|v| v.call == call).unwrap();
        match ClientRpc::from_json(&v.payload).unwrap() {
            ClientRpc::Login(l) => l,
            other => panic!("{other:?}"),
        }
    };
    let l = login("login(password)");
    assert_eq!(
        l.credential,
        LoginCredential::Password {
            digest: auth::password_digest_md5("user1", "secret"),
            kind: CredentialType::Md5
        }
    );
    assert!(l.options.is_empty());
    let name = auth::parse_login_name(&l.login, auth::DEFAULT_DOMAIN).unwrap();
    assert_eq!(name.im_name(), "user1@app.acc");
    let l = login("login(password) sha256");
    assert_eq!(
        l.credential,
        LoginCredential::Password {
            digest: auth::password_digest_sha256("user1", "secret"),
            kind: CredentialType::Sha256
        }
    );
    assert_eq!(l.options.receive_calls(), Some(false));
    let l = login("loginWithToken(accessToken)");
    assert_eq!(
        l.credential,
        LoginCredential::AccessToken("at-02c5d778-8456-4a1e-9a71-e036704219b7".into())
    );
    assert_eq!(l.options.server_presence_control(), Some(false));
    assert_eq!(l.options.receive_calls(), Some(true));
}

// ---------------------------------------------------------------------------------------------
// Server → client shapes
// ---------------------------------------------------------------------------------------------

/// Decode, re-encode, and compare both as text and as a value.
fn rpc_round_trip(text: &str) -> ServerRpc {
    let parsed = ServerRpc::from_json(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_same_json(&parsed.to_json(), text, text);
    parsed
}

fn tokens() -> OAuthTokens {
    OAuthTokens {
        access_token: "at-19525056".into(),
        access_expire: 172800,
        refresh_token: "rt-491c".into(),
        refresh_expire: 2592000,
    }
}

#[test]
fn server_rpc_replies_round_trip() {
    assert_eq!(
        rpc_round_trip(r#"{"name":"__createConnection","params":[]}"#),
        ServerRpc::create_connection()
    );
    assert_eq!(
        rpc_round_trip(r#"{"name":"__pong","params":[]}"#),
        ServerRpc::Pong
    );

    let ok = r#"{"name":"loginSuccessful","params":["User One",{"OAuth":{"accessToken":"at-19525056","accessExpire":172800,"refreshToken":"rt-491c","refreshExpire":2592000}}]}"#;
    assert_eq!(
        rpc_round_trip(ok),
        ServerRpc::LoginSuccessful(LoginSuccessful::new("User One", Some(tokens())))
    );
    assert_eq!(
        LoginSuccessful::new("User One", Some(tokens())).to_json(),
        ok
    );
    // Extra fields the SDK reads (iceConfig, connectionId) pass through after OAuth.
    rpc_round_trip(
        r#"{"name":"loginSuccessful","params":["U",{"OAuth":{"accessToken":"a","accessExpire":1,"refreshToken":"r","refreshExpire":2},"iceConfig":{"iceServers":[]},"connectionId":"c-1"}]}"#,
    );

    for (text, code) in [
        (
            r#"{"name":"loginFailed","params":[401]}"#,
            LoginFailureCode::InvalidPassword,
        ),
        (
            r#"{"name":"loginFailed","params":[404]}"#,
            LoginFailureCode::InvalidUsername,
        ),
        (
            r#"{"name":"loginFailed","params":[701]}"#,
            LoginFailureCode::TokenExpired,
        ),
    ] {
        assert_eq!(
            rpc_round_trip(text),
            ServerRpc::LoginFailed(LoginFailed::new(code))
        );
        assert_eq!(LoginFailed::new(code).to_json(), text);
    }
    let otk = r#"{"name":"loginFailed","params":[302,"otk-ee9aab60dfdeb5bd"]}"#;
    let ServerRpc::LoginFailed(f) = rpc_round_trip(otk) else {
        panic!()
    };
    assert_eq!(f.key(), Some("otk-ee9aab60dfdeb5bd"));
    assert_eq!(
        LoginFailed::one_time_key("otk-ee9aab60dfdeb5bd").to_json(),
        otk
    );

    let refreshed = r#"{"name":"refreshOauthTokenSuccessful","params":[{"OAuth":{"accessToken":"at-19525056","accessExpire":172800,"refreshToken":"rt-491c","refreshExpire":2592000}}]}"#;
    assert_eq!(
        rpc_round_trip(refreshed),
        ServerRpc::RefreshOauthTokenSuccessful(RefreshOauthTokenSuccessful::new(tokens()))
    );
    assert_eq!(
        RefreshOauthTokenSuccessful::new(tokens()).to_json(),
        refreshed
    );
    let failed = r#"{"name":"refreshOauthTokenFailed","params":[701]}"#;
    assert_eq!(
        rpc_round_trip(failed),
        ServerRpc::RefreshOauthTokenFailed(RefreshOauthTokenFailed { code: 701 })
    );
    assert_eq!(
        RefreshOauthTokenFailed::new(LoginFailureCode::TokenExpired).to_json(),
        failed
    );
}

/// Decode a server event, re-encode it, and compare as a value (the documents' key order is
/// illustrative); return the typed message.
fn event_round_trip(text: &str) -> ServerMessage {
    let parsed = ServerMessage::from_json(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let ours: Value = serde_json::from_str(&parsed.to_json()).unwrap();
    let theirs: Value = serde_json::from_str(text).unwrap();
    assert_eq!(ours, theirs, "{text}");
    // Re-encoding is stable, and the serde path agrees.
    assert_eq!(ServerMessage::from_json(&parsed.to_json()).unwrap(), parsed);
    assert_eq!(serde_json::from_str::<ServerMessage>(text).unwrap(), parsed);
    // Framing a pre-encoded payload gives the same text.
    assert_eq!(
        encode_event(parsed.event, &parsed.payload.to_raw(), &parsed.fields()),
        parsed.to_json()
    );
    parsed
}

fn user1() -> User {
    User {
        user_id: 1001,
        user_name: "user1@app.acc".into(),
        display_name: "User One".into(),
        custom_data: Map::new(),
        private_custom_data: Some(Map::new()),
        deleted: false,
        notification_events: Some(vec![]),
        conversations_list: Some(vec![]),
        leave_conversations: Some(vec![]),
    }
}

#[test]
fn on_get_user_round_trips() {
    // transport-and-login.md §6.4, placeholders filled in.
    let text = r#"{"service":"chat","event":"onGetUser","payload":{"@type":"type/vox.store.OutgoingNamespace.GetUser","initiator":1001,"on_incoming_event":"getUser","object":{"user_id":1001,"user_name":"user1@app.acc","display_name":"User One","custom_data":{},"deleted":false,"private_custom_data":{},"notification_events":[],"conversations_list":[],"leave_conversations":[]},"timestamp":1795633429},"to":"user1@app.acc","toId":["1001"],"connid":"1e3619f6-aa1e-4d43-ae67-1b1b00c27574","request_uuid":"62ea50c9-0000-4000-8000-000000000000","version":"2"}"#;
    let m = event_round_trip(text);
    assert_eq!(m.event, EventName::GetUser);
    assert_eq!(m.payload.on_incoming_event, Some(Action::GetUser));
    assert_eq!(
        m.payload.object.as_ref().and_then(EventObject::as_user),
        Some(&user1())
    );
    assert_eq!(m.to_id.as_deref(), Some(&["1001".to_owned()][..]));

    // Built by a server, in our canonical order.
    let mut built = ServerMessage::new(
        EventName::GetUser,
        EventPayload::new(1001, Action::GetUser, user1())
            .with_type_name("type/vox.store.OutgoingNamespace.GetUser")
            .with_timestamp(1795633429),
        "62ea50c9-0000-4000-8000-000000000000",
    );
    built.to = Some("user1@app.acc".into());
    built.to_id = Some(vec!["1001".into()]);
    built.connid = Some("1e3619f6-aa1e-4d43-ae67-1b1b00c27574".into());
    built.version = Some("2".into());
    assert_eq!(built, m);
    assert_eq!(
        built.to_json(),
        r#"{"service":"chat","event":"onGetUser","payload":{"@type":"type/vox.store.OutgoingNamespace.GetUser","initiator":1001,"on_incoming_event":"getUser","object":{"user_id":1001,"user_name":"user1@app.acc","display_name":"User One","custom_data":{},"private_custom_data":{},"deleted":false,"notification_events":[],"conversations_list":[],"leave_conversations":[]},"timestamp":1795633429},"to":"user1@app.acc","toId":["1001"],"connid":"1e3619f6-aa1e-4d43-ae67-1b1b00c27574","request_uuid":"62ea50c9-0000-4000-8000-000000000000","version":"2"}"#
    );
}

#[test]
fn on_error_round_trips() {
    // transport-and-login.md §6.4.
    let text = r#"{"service":"chat","event":"onError","payload":{"@type":"type/vox.store.OutgoingNamespace.Error","initiator":1001,"on_incoming_event":"getUser","code":25,"description":"User is not found.","timestamp":1795633429},"request_uuid":"ad86c4e6-bec9-41d4-aa7c-12a9f3ca1845"}"#;
    let m = event_round_trip(text);
    assert_eq!(m.payload.error_code(), Some(ErrorCode::UserNotFound));
    assert!(m.payload.object.is_none());
    let mut built = ServerMessage::error(
        "ad86c4e6-bec9-41d4-aa7c-12a9f3ca1845",
        1001,
        Some(Action::GetUser),
        ErrorCode::UserNotFound,
    );
    built.payload = built
        .payload
        .with_type_name("type/vox.store.OutgoingNamespace.Error")
        .with_timestamp(1795633429);
    assert_eq!(built, m);
    assert_eq!(
        built.to_json(),
        r#"{"service":"chat","event":"onError","payload":{"@type":"type/vox.store.OutgoingNamespace.Error","initiator":1001,"on_incoming_event":"getUser","timestamp":1795633429,"code":25,"description":"User is not found."},"request_uuid":"ad86c4e6-bec9-41d4-aa7c-12a9f3ca1845"}"#
    );
    // messaging.md §3.1: no @type, no timestamp.
    let m = event_round_trip(
        r#"{"service":"chat","event":"onError","payload":{"initiator":5,"on_incoming_event":"addParticipants","code":13,"description":"User is already in the participants list."},"request_uuid":"r-1"}"#,
    );
    assert_eq!(m.payload.error_code(), Some(ErrorCode::AlreadyParticipant));
}

#[test]
fn retransmit_events_round_trip() {
    // messaging.md §3.20.
    let text = r#"{"service":"chat","event":"onRetransmitEvents","request_uuid":"r-2","payload":{"initiator":5,"on_incoming_event":"retransmitEvents","count":2,"from_seq":4,"to_seq":5,"object":{"event":"onSendMessage","payload":{"initiator":6,"on_incoming_event":"sendMessage","seq":4,"timestamp":1700000020,"object":{"uuid":"m1","conversation":"conv-1","text":"a","payload":[]}}}}}"#;
    let m = event_round_trip(text);
    assert_eq!(m.payload.count, Some(2));
    let Some(EventObject::Retransmitted(inner)) = &m.payload.object else {
        panic!("{m:?}")
    };
    assert_eq!(inner.event, EventName::SendMessage);
    assert!(inner.event.is_message_event());
    assert_eq!(inner.payload.initiator, 6);
    assert_eq!(inner.payload.seq, Some(4));
    let msg = inner
        .payload
        .object
        .as_ref()
        .and_then(EventObject::as_message)
        .unwrap();
    assert_eq!(msg.text.as_deref(), Some("a"));

    // A conversation event inside, with the full inner envelope (service present).
    event_round_trip(
        r#"{"service":"chat","event":"onRetransmitEvents","payload":{"initiator":1001,"on_incoming_event":"retransmitEvents","object":{"service":"chat","event":"onCreateConversation","payload":{"initiator":1001,"on_incoming_event":"createConversation","object":{"uuid":"c","title":"","participants":[{"user_id":1001,"flags":65535,"last_read":0}],"direct":false,"enable_public_join":false,"uber_conversation":false,"custom_data":{},"created_at":1,"last_update":1},"seq":1,"timestamp":1}},"count":1},"request_uuid":"r-3"}"#,
    );

    // Built by a server.
    let inner = RetransmittedEvent::new(
        EventName::SendMessage,
        EventPayload::new(
            6,
            Action::SendMessage,
            Message {
                uuid: "m1".into(),
                conversation: "conv-1".into(),
                text: Some("a".into()),
                payload: Some(vec![]),
            },
        )
        .with_seq(4)
        .with_timestamp(1700000020),
    );
    let built = ServerMessage::new(
        EventName::RetransmitEvents,
        EventPayload::retransmit(5, 2, inner),
        "r-2",
    );
    assert_eq!(
        built.to_json(),
        r#"{"service":"chat","event":"onRetransmitEvents","payload":{"initiator":5,"on_incoming_event":"retransmitEvents","object":{"event":"onSendMessage","payload":{"initiator":6,"on_incoming_event":"sendMessage","object":{"uuid":"m1","conversation":"conv-1","text":"a","payload":[]},"seq":4,"timestamp":1700000020}},"count":2},"request_uuid":"r-2"}"#
    );

    // An empty retransmission: one frame, count 0, no object.
    let empty = ServerMessage::new(
        EventName::RetransmitEvents,
        EventPayload::retransmit_empty(5),
        "r-4",
    );
    assert_eq!(
        empty.to_json(),
        r#"{"service":"chat","event":"onRetransmitEvents","payload":{"initiator":5,"on_incoming_event":"retransmitEvents","count":0},"request_uuid":"r-4"}"#
    );
    assert_eq!(event_round_trip(&empty.to_json()), empty);
}

#[test]
fn conversation_and_message_events_round_trip() {
    // messaging.md §3.2.
    let m = event_round_trip(
        r#"{"service":"chat","event":"onCreateConversation","request_uuid":"r-5","payload":{"initiator":5,"on_incoming_event":"createConversation","seq":1,"timestamp":1700000000,"object":{"uuid":"conv-1","title":"T","direct":false,"enable_public_join":false,"uber_conversation":false,"custom_data":{},"created_at":1700000000,"last_update":1700000000,"participants":[{"user_id":5,"flags":65535,"last_read":0},{"user_id":6,"flags":7,"last_read":0}]}}}"#,
    );
    let c = m
        .payload
        .object
        .as_ref()
        .and_then(EventObject::as_conversation)
        .unwrap();
    assert!(c.participants[0].flags.is_owner());
    assert!(!c.participants[1].flags.is_owner() && c.participants[1].flags.can_remove());
    assert_eq!(m.payload.seq, Some(1));

    // messaging.md §3.10, and the pushes of transport-and-login.md §5 (request_uuid "").
    event_round_trip(
        r#"{"service":"chat","event":"onSendMessage","request_uuid":"","payload":{"initiator":1002,"on_incoming_event":"sendMessage","seq":100,"timestamp":1795633524,"object":{"uuid":"pushed-msg-1","conversation":"c","text":"hi from user2","payload":[]}}}"#,
    );
    event_round_trip(
        r#"{"service":"chat","event":"onRemoveMessage","request_uuid":"r-6","payload":{"initiator":5,"on_incoming_event":"removeMessage","seq":11,"timestamp":1700000011,"object":{"uuid":"msg-1","conversation":"conv-1"}}}"#,
    );
    event_round_trip(
        r#"{"service":"chat","event":"onTyping","request_uuid":"","payload":{"initiator":1002,"on_incoming_event":"typingMessage","object":{"conversation":"c"},"timestamp":1795633524}}"#,
    );
    let read = event_round_trip(
        r#"{"service":"chat","event":"isRead","request_uuid":"","payload":{"initiator":5,"on_incoming_event":"isRead","object":{"conversation":"conv-1","seq":12}}}"#,
    );
    assert_eq!(
        read.payload.object,
        Some(EventObject::Read(StatusMessage {
            conversation: "conv-1".into(),
            seq: 12,
            status: None
        }))
    );
    event_round_trip(
        r#"{"service":"chat","event":"onGetPublicConversations","request_uuid":"r","payload":{"initiator":5,"on_incoming_event":"getPublicConversations","object":{"uuid":["a","b"]}}}"#,
    );
    event_round_trip(
        r#"{"service":"chat","event":"onGetSubscriptionList","request_uuid":"r","payload":{"initiator":5,"on_incoming_event":"getSubscriptionList","object":{"subscriptions":[1002]}}}"#,
    );
    event_round_trip(
        r#"{"service":"chat","event":"onUnsubscribe","request_uuid":"r","payload":{"initiator":5,"on_incoming_event":"unsubscribe","object":{"user_id":[1002]}}}"#,
    );
    event_round_trip(
        r#"{"service":"chat","event":"onSetStatus","request_uuid":"r","payload":{"initiator":5,"on_incoming_event":"setStatus","object":{"online":true},"timestamp":1}}"#,
    );
    event_round_trip(
        r#"{"service":"chat","event":"onRemoveBot","request_uuid":"r","payload":{"initiator":5,"on_incoming_event":"removeBot","object":{}}}"#,
    );
}

#[test]
fn event_readers_are_as_lenient_as_the_sdk() {
    // Numeric strings where the SDK applies Number(), an unknown on_incoming_event, unread
    // routing fields of odd types.
    let m = ServerMessage::from_json(
        r#"{"service":"chat","event":"onEditUser","payload":{"initiator":"1001","on_incoming_event":"somethingNew","object":{"user_id":"1001","user_name":"u@a.b","custom_data":null}},"toId":[1001],"version":2}"#,
    )
    .unwrap();
    assert_eq!(m.payload.initiator, 1001);
    assert_eq!(m.payload.on_incoming_event, None);
    assert_eq!(m.to_id, Some(vec!["1001".to_owned()]));
    assert_eq!(m.version.as_deref(), Some("2"));
    assert_eq!(m.request_uuid, "");
}

#[test]
fn bad_frames_get_typed_errors() {
    let unknown = ClientRequest::from_json(
        r#"{"service":"chat","event":"deleteEverything","payload":{},"request_uuid":"r"}"#,
    )
    .unwrap_err();
    assert_eq!(
        unknown,
        MessagingError::UnknownAction("deleteEverything".into())
    );
    assert_eq!(unknown.error_code(), ErrorCode::UnknownEvent);
    let bad = ClientRequest::from_json(r#"{"service":"chat","event":"getConversations","payload":{"uuid":"x"},"request_uuid":"r"}"#)
        .unwrap_err();
    assert!(
        matches!(
            bad,
            MessagingError::Payload {
                name: "getConversations",
                ..
            }
        ),
        "{bad:?}"
    );
    assert_eq!(bad.error_code(), ErrorCode::General);
    let bad = ClientRequest::from_json(
        r#"{"service":"chat","event":"typingMessage","payload":["c"],"request_uuid":"r"}"#,
    )
    .unwrap_err();
    assert!(matches!(bad, MessagingError::Payload { .. }));
    let svc = ClientRequest::from_json(
        r#"{"service":"mail","event":"getUser","payload":{},"request_uuid":"r"}"#,
    )
    .unwrap_err();
    assert_eq!(svc.error_code(), ErrorCode::TransportMessageStructure);
    assert!(matches!(
        ClientRequest::from_json("[]"),
        Err(MessagingError::Envelope(_))
    ));
    assert!(matches!(
        ClientRequest::from_json(r#"{"service":"chat","payload":{}}"#),
        Err(MessagingError::Envelope(_))
    ));
    assert!(matches!(
        ServerMessage::from_json(r#"{"service":"chat","event":"onSomething","payload":{}}"#),
        Err(MessagingError::UnknownEvent(_))
    ));
    assert!(matches!(
        ServerMessage::from_json(
            r#"{"service":"chat","event":"onGetUser","payload":{"initiator":1,"object":{"user_name":"x"}}}"#
        ),
        Err(MessagingError::Payload {
            name: "onGetUser",
            ..
        })
    ));
    // Unknown keys and a wrong @type are ignored on reading; the encoding uses the right one.
    let r = ClientRequest::from_json(
        r#"{"service":"chat","event":"getUser","payload":{"user_id":7,"extra":1,"@type":"whatever"},"request_uuid":"r"}"#,
    )
    .unwrap();
    assert_eq!(
        r.to_json(),
        r#"{"service":"chat","event":"getUser","payload":{"user_id":7,"@type":"type/vox.store.IncomingNamespace.GetUser"},"request_uuid":"r"}"#
    );
}

#[test]
fn fan_out_encoding_reuses_one_payload() {
    let payload = EventPayload::new(
        1002,
        Action::SendMessage,
        Message {
            uuid: "m".into(),
            conversation: "c".into(),
            text: Some("hi".into()),
            payload: Some(vec![]),
        },
    )
    .with_seq(3)
    .with_timestamp(1);
    let raw = payload.to_raw();
    let ids = vec!["1001".to_owned()];
    let text = encode_event(
        EventName::SendMessage,
        &raw,
        &EnvelopeFields {
            to: Some("user1@app.acc"),
            to_id: Some(&ids),
            connid: None,
            request_uuid: "",
            version: None,
        },
    );
    assert_eq!(
        text,
        r#"{"service":"chat","event":"onSendMessage","payload":{"initiator":1002,"on_incoming_event":"sendMessage","object":{"uuid":"m","conversation":"c","text":"hi","payload":[]},"seq":3,"timestamp":1},"to":"user1@app.acc","toId":["1001"],"request_uuid":""}"#
    );
    let mut m = ServerMessage::new(EventName::SendMessage, payload, "");
    m.to = Some("user1@app.acc".into());
    m.to_id = Some(ids);
    assert_eq!(m.to_json(), text);
}
