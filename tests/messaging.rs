//! The Messenger API against the real server's messaging, with two (or three) users: every
//! method, success and failure, events at the other party, order under load, and events across a
//! forced reconnect.

mod common;

use common::{Proxy, Recorder, USER1, USER2, USER3, logged_in, start_server_unlimited, within};
use serde_json::json;
use vox_messenger::{
    Client, ConversationConfig, ConversationParticipant, Error, ErrorCode, JsonObject,
    MessengerEvent, MessengerEventType as T, MessengerNotification,
};

fn obj(v: serde_json::Value) -> JsonObject {
    v.as_object().unwrap().clone()
}

async fn id_of(c: &Client, name: &str) -> u64 {
    within(c.messenger().get_user_by_name(name))
        .await
        .unwrap()
        .user
        .im_id
}

#[tokio::test]
async fn users_status_and_subscriptions() {
    let ts = start_server_unlimited().await;
    let a = logged_in(&ts.ws(), USER1).await;
    let b = logged_in(&ts.ws(), USER2).await;
    let rb = Recorder::attach(&b);
    let (ma, mb) = (a.messenger(), b.messenger());

    let me = within(ma.get_user_by_name(&ma.get_me().unwrap()))
        .await
        .unwrap();
    assert_eq!(me.user.name, "user1@app.acc");
    assert_eq!(me.user.display_name, "User One");
    let id1 = me.user.im_id;
    let id2 = id_of(&a, "user2@app.acc").await;
    let id3 = id_of(&a, "user3@app.acc").await;
    let by_id = within(ma.get_user_by_im_id(id2)).await.unwrap();
    assert_eq!(by_id.user.name, "user2@app.acc");

    let users = within(ma.get_users_by_name(&["user3@app.acc", "user2@app.acc"]))
        .await
        .unwrap();
    assert_eq!(
        users.iter().map(|u| u.user.im_id).collect::<Vec<_>>(),
        [id3, id2]
    );
    let users = within(ma.get_users_by_im_id(&[id2, id3, id1]))
        .await
        .unwrap();
    assert_eq!(
        users
            .iter()
            .map(|u| u.user.name.as_str())
            .collect::<Vec<_>>(),
        ["user2@app.acc", "user3@app.acc", "user1@app.acc"]
    );
    let e = within(ma.get_user_by_name("nobody@app.acc"))
        .await
        .unwrap_err();
    assert_eq!(e.messenger_error(), Some(ErrorCode::UserNotFound), "{e:?}");

    // b subscribes to a: a's edits and status reach b.
    let s = within(mb.subscribe(&[id1])).await.unwrap();
    assert_eq!(s.users, [id1]);
    let subs = within(mb.get_subscriptions()).await.unwrap();
    assert_eq!(subs.users, [id1]);
    let edited = within(ma.edit_user(
        Some(obj(json!({"color": "blue"}))),
        Some(obj(json!({"secret": 1}))),
    ))
    .await
    .unwrap();
    assert_eq!(edited.user.custom_data, obj(json!({"color": "blue"})));
    let ev = rb.event(|e| e.event_type() == T::EditUser).await;
    let MessengerEvent::User(u) = ev else {
        panic!()
    };
    assert_eq!(u.user.im_id, id1);
    assert_eq!(u.user.custom_data, obj(json!({"color": "blue"})));
    assert_eq!(
        u.user.private_custom_data.unwrap_or_default(),
        JsonObject::new(),
        "private data is private"
    );
    // None leaves a field unchanged.
    let e2 = within(ma.edit_user(None, Some(JsonObject::new())))
        .await
        .unwrap();
    assert_eq!(e2.user.custom_data, obj(json!({"color": "blue"})));

    within(ma.set_status(true)).await.unwrap();
    let ev = rb.event(|e| e.event_type() == T::SetStatus).await;
    let MessengerEvent::Status(st) = ev else {
        panic!()
    };
    assert_eq!((st.initiator, st.is_online), (id1, true));

    let n = within(ma.manage_push_notifications(&[MessengerNotification::SendMessage]))
        .await
        .unwrap();
    assert_eq!(n.user.notifications, ["onSendMessage"]);

    let u = within(mb.unsubscribe(&[id1])).await.unwrap();
    assert_eq!(u.users, [id1]);
    within(mb.subscribe(&[id1, id3])).await.unwrap();
    within(mb.unsubscribe_from_all()).await.unwrap();
    assert!(
        within(mb.get_subscriptions())
            .await
            .unwrap()
            .users
            .is_empty()
    );
    assert!(rb.all_on_callback_thread());
}

#[tokio::test]
async fn conversations_participants_messages_typing_read_retransmit() {
    let ts = start_server_unlimited().await;
    let a = logged_in(&ts.ws(), USER1).await;
    let b = logged_in(&ts.ws(), USER2).await;
    let c = logged_in(&ts.ws(), USER3).await;
    let rb = Recorder::attach(&b);
    let ra = Recorder::attach(&a);
    let (ma, mb, mc) = (a.messenger(), b.messenger(), c.messenger());
    let id2 = id_of(&a, "user2@app.acc").await;
    let id3 = id_of(&a, "user3@app.acc").await;

    let created = within(ma.create_conversation(ConversationConfig {
        participants: vec![ConversationParticipant::new(id2)],
        title: "Chat".into(),
        custom_data: obj(json!({"topic": "t"})),
        ..Default::default()
    }))
    .await
    .unwrap();
    let conv = created.conversation.clone();
    assert_eq!(conv.data().title, "Chat");
    assert!(
        conv.data()
            .participants
            .iter()
            .any(|p| p.im_user_id == id2 && p.can_write)
    );
    let MessengerEvent::Conversation(ev) =
        rb.event(|e| e.event_type() == T::CreateConversation).await
    else {
        panic!()
    };
    assert_eq!(ev.conversation.uuid(), conv.uuid());

    let got = within(mb.get_conversation(conv.uuid())).await.unwrap();
    assert_eq!(got.conversation.data().title, "Chat");
    let many = within(mb.get_conversations(&[conv.uuid()])).await.unwrap();
    assert_eq!(many.len(), 1);
    let e = within(mb.get_conversation("00000000-0000-0000-0000-000000000000"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Messenger(_)), "{e:?}");

    // Edit: title + public join; b sees it.
    let mut edit = conv.clone();
    edit.set_title("Renamed");
    edit.set_public_join(true);
    let edited = within(edit.update()).await.unwrap();
    assert_eq!(edited.conversation.data().title, "Renamed");
    let MessengerEvent::Conversation(ev) =
        rb.event(|e| e.event_type() == T::EditConversation).await
    else {
        panic!()
    };
    assert_eq!(ev.conversation.data().title, "Renamed");
    let public = within(mc.get_public_conversations()).await.unwrap();
    assert!(public.conversation_list.iter().any(|u| u == conv.uuid()));
    within(mc.join_conversation(conv.uuid())).await.unwrap();
    within(mc.leave_conversation(conv.uuid())).await.unwrap();

    // Participants.
    let p3 = ConversationParticipant {
        can_write: true,
        ..ConversationParticipant::new(id3)
    };
    let added = within(conv.add_participants(std::slice::from_ref(&p3)))
        .await
        .unwrap();
    assert!(
        added
            .conversation
            .data()
            .participants
            .iter()
            .any(|p| p.im_user_id == id3)
    );
    let e = within(conv.add_participants(std::slice::from_ref(&p3)))
        .await
        .unwrap_err();
    assert_eq!(
        e.messenger_error(),
        Some(ErrorCode::AlreadyParticipant),
        "{e:?}"
    );
    let p3e = ConversationParticipant {
        can_write: true,
        can_manage_participants: true,
        ..ConversationParticipant::new(id3)
    };
    let ed = within(conv.edit_participants(&[p3e])).await.unwrap();
    assert!(
        ed.conversation
            .data()
            .participants
            .iter()
            .any(|p| p.im_user_id == id3 && p.can_manage_participants)
    );
    let rm = within(conv.remove_participants(&[p3])).await.unwrap();
    assert!(
        !rm.conversation
            .data()
            .participants
            .iter()
            .any(|p| p.im_user_id == id3)
    );

    // Messages under load: b receives them once each, in order.
    let mut sent = Vec::new();
    for i in 0..50 {
        sent.push(
            within(conv.send_message(&format!("hello {i}"), vec![]))
                .await
                .unwrap(),
        );
    }
    let seqs: Vec<u64> = sent.iter().map(|e| e.sequence).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let mut texts = Vec::new();
    while texts.len() < 50 {
        if let MessengerEvent::Message(m) = rb.event(|e| e.event_type() == T::SendMessage).await {
            texts.push(m.message.text().to_owned());
        }
    }
    assert_eq!(
        texts,
        (0..50).map(|i| format!("hello {i}")).collect::<Vec<_>>()
    );

    // Payload, edit and remove.
    let with_payload =
        within(conv.send_message("card", vec![obj(json!({"type": "card", "id": 7}))]))
            .await
            .unwrap();
    assert_eq!(
        with_payload.message.data().payload,
        vec![obj(json!({"type": "card", "id": 7}))]
    );
    let up = within(with_payload.message.update("edited", vec![]))
        .await
        .unwrap();
    assert_eq!(up.message.text(), "edited");
    let MessengerEvent::Message(m) = rb.event(|e| e.event_type() == T::EditMessage).await else {
        panic!()
    };
    assert_eq!(m.message.text(), "edited");
    within(with_payload.message.remove()).await.unwrap();
    let MessengerEvent::Message(m) = rb.event(|e| e.event_type() == T::RemoveMessage).await else {
        panic!()
    };
    assert_eq!(m.message.uuid(), with_payload.message.uuid());
    // b may not edit a's message.
    let bconv = within(mb.get_conversation(conv.uuid()))
        .await
        .unwrap()
        .conversation;
    let foreign = mb
        .recreate_message(
            sent[0].message.uuid(),
            bconv.uuid(),
            "x",
            vec![],
            sent[0].sequence,
        )
        .unwrap();
    assert!(within(foreign.update("hijack", vec![])).await.is_err());

    // Typing (debounced) and read marks.
    within(conv.typing()).await.unwrap();
    let MessengerEvent::ConversationService(t) = rb.event(|e| e.event_type() == T::Typing).await
    else {
        panic!()
    };
    assert_eq!(t.conversation_uuid, conv.uuid());
    assert_eq!(
        within(conv.typing()).await.unwrap_err(),
        Error::CallDiscarded
    );
    let last = sent.last().unwrap().sequence;
    within(bconv.mark_as_read(last)).await.unwrap();
    let MessengerEvent::ConversationService(r) = ra.event(|e| e.event_type() == T::Read).await
    else {
        panic!()
    };
    assert_eq!(
        (r.conversation_uuid.as_str(), r.sequence),
        (conv.uuid(), last)
    );

    // History.
    let first = sent[0].sequence;
    let h = within(bconv.retransmit_events(first, first + 9))
        .await
        .unwrap();
    assert_eq!(h.events.len(), 10);
    assert_eq!(
        h.events.iter().map(|e| e.sequence()).collect::<Vec<_>>(),
        (first..first + 10).collect::<Vec<_>>()
    );
    let h = within(bconv.retransmit_events_from(first, 5))
        .await
        .unwrap();
    assert_eq!(h.events.len(), 5);
    let h = within(bconv.retransmit_events_to(first + 4, 3))
        .await
        .unwrap();
    assert_eq!(
        h.events.iter().map(|e| e.sequence()).collect::<Vec<_>>(),
        (first + 2..=first + 4).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn every_event_once_in_order_across_forced_reconnects() {
    let ts = start_server_unlimited().await;
    let proxy = Proxy::start(ts.srv.plain_addr.unwrap()).await;
    let a = logged_in(&ts.ws(), USER1).await;
    let b = logged_in(&proxy.ws(), USER2).await;
    let rb = Recorder::attach(&b);
    let id2 = id_of(&a, "user2@app.acc").await;
    let conv = within(a.messenger().create_conversation(ConversationConfig {
        participants: vec![ConversationParticipant::new(id2)],
        ..Default::default()
    }))
    .await
    .unwrap()
    .conversation;
    for i in 0..120 {
        conv.send_message_cb(&format!("m{i}"), vec![], |r| {
            r.expect("send");
        });
        if i == 40 || i == 80 {
            proxy.cut();
        }
        if i % 10 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    let mut texts = Vec::new();
    let mut seqs = Vec::new();
    while texts.len() < 120 {
        if let MessengerEvent::Message(m) = rb.event(|e| e.event_type() == T::SendMessage).await {
            texts.push(m.message.text().to_owned());
            seqs.push(m.sequence);
        }
    }
    assert_eq!(texts, (0..120).map(|i| format!("m{i}")).collect::<Vec<_>>());
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    assert!(proxy.accepted() >= 2, "the socket was really cut");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let n = rb
        .all
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.event_type() == T::SendMessage)
        .count();
    assert_eq!(n, 120, "no duplicate");
}

#[tokio::test]
async fn default_request_spacing_keeps_a_burst_under_the_servers_rate_limit() {
    // The server's default limit: 20 requests per second per session.
    let ts = common::start_server().await;
    let spaced = Client::new(vox_messenger::ClientConfig::new(ts.ws())).unwrap();
    within(spaced.connect()).await.unwrap();
    within(spaced.login(USER1, common::PASSWORD)).await.unwrap();
    let unspaced = logged_in(&ts.ws(), USER2).await;
    let id3 = id_of(&unspaced, "user3@app.acc").await;

    async fn burst(c: &Client, id: u64, n: usize) -> Vec<vox_messenger::Result<()>> {
        let conv = within(c.messenger().create_conversation(ConversationConfig {
            participants: vec![ConversationParticipant::new(id)],
            ..Default::default()
        }))
        .await
        .unwrap()
        .conversation;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..n {
            let tx = tx.clone();
            conv.send_message_cb(&format!("b{i}"), vec![], move |r| {
                let _ = tx.send(r.map(|_| ()));
            });
        }
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(
                tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        out
    }

    let t0 = std::time::Instant::now();
    let r = burst(&spaced, id3, 24).await;
    assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
    assert!(t0.elapsed() >= std::time::Duration::from_millis(23 * 220 - 50));
    // Without spacing the same burst hits the limit (error 32): the spacing is what helps.
    let r = burst(&unspaced, id3, 24).await;
    assert!(
        r.iter().any(
            |r| matches!(r, Err(e) if e.messenger_error() == Some(ErrorCode::RateLimitPerSecond))
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn round_trip_figures() {
    let ts = start_server_unlimited().await;
    let t0 = std::time::Instant::now();
    let a = logged_in(&ts.ws(), USER1).await;
    let connect_login = t0.elapsed();
    let m = a.messenger();
    let n = 300;
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        within(m.get_user_by_im_id(1002)).await.unwrap();
    }
    let rt = t0.elapsed() / n;
    println!(
        "loopback: connect + login {connect_login:?}; get_user round trip {rt:?} (mean of {n}, this build)"
    );
    assert!(rt < std::time::Duration::from_millis(200));
}

#[tokio::test]
async fn several_sessions_of_one_user_all_receive_the_events() {
    let ts = start_server_unlimited().await;
    let a1 = logged_in(&ts.ws(), USER1).await;
    let a2 = logged_in(&ts.ws(), USER1).await;
    let b = logged_in(&ts.ws(), USER2).await;
    let (r1, r2) = (Recorder::attach(&a1), Recorder::attach(&a2));
    let id1 = id_of(&b, "user1@app.acc").await;
    let conv = within(b.messenger().create_conversation(ConversationConfig {
        participants: vec![ConversationParticipant::new(id1)],
        ..Default::default()
    }))
    .await
    .unwrap()
    .conversation;
    for r in [&r1, &r2] {
        r.event(|e| e.event_type() == T::CreateConversation).await;
    }
    within(conv.send_message("to both sessions", vec![]))
        .await
        .unwrap();
    for r in [&r1, &r2] {
        let MessengerEvent::Message(m) = r.event(|e| e.event_type() == T::SendMessage).await else {
            panic!()
        };
        assert_eq!(m.message.text(), "to both sessions");
    }
    // What one session sends reaches the user's other session too.
    let conv1 = within(a1.messenger().get_conversation(conv.uuid()))
        .await
        .unwrap()
        .conversation;
    within(conv1.send_message("from session 1", vec![]))
        .await
        .unwrap();
    let MessengerEvent::Message(m) = r2.event(|e| e.event_type() == T::SendMessage).await else {
        panic!()
    };
    assert_eq!((m.message.text(), m.initiator), ("from session 1", id1));
}

#[tokio::test]
async fn get_me_user_is_fetched_at_login_and_follows_edits_from_other_sessions() {
    let ts = start_server_unlimited().await;
    let c = common::client(&ts.ws());
    assert_eq!(c.messenger().get_me_user(), None);
    within(c.connect()).await.unwrap();
    assert_eq!(c.messenger().get_me_user(), None);
    within(c.login(USER1, common::PASSWORD)).await.unwrap();
    let m = c.messenger();
    // Complete as soon as the login completes: no network call.
    let me = m.get_me_user().expect("logged in");
    assert_eq!(me.name, "user1@app.acc");
    assert_eq!(m.get_me().as_deref(), Some("user1@app.acc"));
    assert_eq!(me.display_name, "User One");
    let other = logged_in(&ts.ws(), USER2).await;
    assert_eq!(me.im_id, id_of(&other, "user1@app.acc").await);
    assert_ne!(me.im_id, 0);

    // An edit from ANOTHER session of user1 reaches this session's copy.
    let a2 = logged_in(&ts.ws(), USER1).await;
    within(a2.messenger().edit_user(
        Some(obj(json!({"from": "session 2"}))),
        Some(obj(json!({"secret": 2}))),
    ))
    .await
    .unwrap();
    within(async {
        loop {
            let u = m.get_me_user().unwrap();
            if u.custom_data == obj(json!({"from": "session 2"})) {
                assert_eq!(u.private_custom_data, Some(obj(json!({"secret": 2}))));
                assert_eq!(u.im_id, me.im_id);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;

    // Cleared with the session.
    within(c.disconnect()).await.unwrap();
    assert_eq!(c.messenger().get_me_user(), None);
    assert_eq!(c.messenger().get_me(), None);
}
