//! The runtime contract and local validation, against the recording gateway: callbacks on the
//! one callback thread, in server order, listeners before completions, re-entrancy, cancel,
//! timeouts, and bad input rejected with typed errors before anything is sent.

mod common;

use common::mock::{Mock, default_responder};
use common::{PASSWORD, Recorder, USER1, within};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use vox_messenger::{
    Client, ClientConfig, ConversationConfig, ConversationParticipant, Error, JsonObject,
    MessengerEvent, MessengerEventType, runtime,
};

const CONV: &str = "67983249-cf74-435d-9b3a-1e7ade7ab84a";

async fn logged_in_with(mock: &mut Mock, tweak: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = common::config(&mock.ws());
    tweak(&mut cfg);
    let c = Client::new(cfg).unwrap();
    within(c.connect()).await.unwrap();
    within(c.login(USER1, PASSWORD)).await.unwrap();
    mock.login_frames().await;
    c
}

fn send_message_event(seq: u64) -> Value {
    json!({"service":"chat","event":"onSendMessage","payload":{"initiator":1002,"on_incoming_event":"sendMessage","seq":seq,"timestamp":1700000000,"object":{"uuid":uuid::Uuid::new_v4().to_string(),"conversation":CONV,"text":format!("m{seq}"),"payload":[]}},"request_uuid":""})
}

fn obj(v: Value) -> JsonObject {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn callbacks_run_on_the_callback_thread_in_server_order() {
    let mut mock = Mock::start(Some(default_responder())).await;
    let c = logged_in_with(&mut mock, |_| {}).await;
    let rec = Recorder::attach(&c);
    let m = c.messenger();
    // Listener of the reply and the completion: the listener first.
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    m.on(MessengerEventType::GetUser, move |_| {
        o.lock().unwrap().push("listener")
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let o = order.clone();
    m.get_user_by_im_id_cb(1002, move |r| {
        o.lock().unwrap().push("completion");
        let _ = tx.send((r, runtime::is_callback_thread()));
    });
    let (r, on_thread) = within(rx.recv()).await.unwrap();
    assert_eq!(r.unwrap().user.im_id, 1002);
    assert!(on_thread);
    assert!(!runtime::is_callback_thread());
    assert_eq!(*order.lock().unwrap(), ["listener", "completion"]);

    // 500 pushed events arrive once each, in order.
    for seq in 1..=500 {
        mock.push(send_message_event(seq));
    }
    let mut seen = Vec::new();
    while seen.len() < 500 {
        if let MessengerEvent::Message(e) = rec
            .event(|e| e.event_type() == MessengerEventType::SendMessage)
            .await
        {
            assert_eq!(e.message.data().sender, 1002);
            seen.push(e.sequence);
        }
    }
    assert_eq!(seen, (1..=500).collect::<Vec<_>>());
    assert!(rec.all_on_callback_thread());
}

#[tokio::test]
async fn sdk_calls_from_inside_callbacks_and_listener_management() {
    let mut mock = Mock::start(Some(default_responder())).await;
    let c = logged_in_with(&mut mock, |_| {}).await;
    let m = c.messenger();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();

    // A listener that calls back into the SDK: a request, then off() of itself, then on().
    let m2 = m.clone();
    let tx2 = tx.clone();
    m.on(MessengerEventType::SendMessage, move |ev| {
        let MessengerEvent::Message(e) = ev else {
            return;
        };
        let m3 = m2.clone();
        let tx3 = tx2.clone();
        let seq = e.sequence;
        m2.get_user_by_im_id_cb(e.initiator, move |r| {
            let u = r.unwrap();
            // Still inside a callback: remove every SendMessage listener, add another.
            m3.off(MessengerEventType::SendMessage, None);
            let tx4 = tx3.clone();
            m3.on(MessengerEventType::SendMessage, move |ev| {
                if let MessengerEvent::Message(e) = ev {
                    let _ = tx4.send(format!("second listener {}", e.sequence));
                }
            });
            let _ = tx3.send(format!("user {} after message {seq}", u.user.im_id));
        });
    });
    mock.push(send_message_event(1));
    assert_eq!(
        within(rx.recv()).await.unwrap(),
        "user 1002 after message 1"
    );
    mock.push(send_message_event(2));
    assert_eq!(within(rx.recv()).await.unwrap(), "second listener 2");

    // off(type, Some(id)) removes only that listener.
    let (ta, mut ra) = mpsc::unbounded_channel::<&str>();
    let t1 = ta.clone();
    let id1 = m.on(MessengerEventType::Typing, move |_| {
        let _ = t1.send("a");
    });
    let t2 = ta.clone();
    m.on(MessengerEventType::Typing, move |_| {
        let _ = t2.send("b");
    });
    m.off(MessengerEventType::Typing, Some(id1));
    mock.push(json!({"service":"chat","event":"onTyping","payload":{"initiator":1002,"on_incoming_event":"typingMessage","object":{"conversation":CONV}},"request_uuid":""}));
    assert_eq!(within(ra.recv()).await.unwrap(), "b");

    // A panicking callback does not take the callback thread down.
    m.on(MessengerEventType::Read, |_| {
        panic!("boom (expected by the test)")
    });
    mock.push(json!({"service":"chat","event":"isRead","payload":{"initiator":1002,"on_incoming_event":"isRead","object":{"conversation":CONV,"seq":3}},"request_uuid":""}));
    let u = within(m.get_user_by_im_id(1003)).await.unwrap();
    assert_eq!(u.user.im_id, 1003);
}

#[tokio::test]
async fn cancel_timeout_and_drop_complete_exactly_once() {
    let mut mock = Mock::start(None).await;
    let c = logged_in_with(&mut mock, |cfg| {
        cfg.request_timeout = Duration::from_millis(300)
    })
    .await;
    let m = c.messenger();

    // Cancel: the callback gets Cancelled once; a second cancel is a no-op.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t = tx.clone();
    let op = m.get_conversation_cb(CONV, move |r| {
        let _ = t.send(r.map(|_| ()));
    });
    mock.next_frame().await;
    c.cancel(op);
    c.cancel(op);
    assert_eq!(within(rx.recv()).await.unwrap(), Err(Error::Cancelled));

    // Timeout: unanswered, so it fails with 10002.
    let e = within(m.get_conversation(CONV)).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert_eq!(e.code(), 10002);
    // The cancelled request never completes twice.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(rx.try_recv().is_err());

    // Dropping every handle with a call pending completes it with ConnectionClosed.
    let mut mock2 = Mock::start(None).await; // the mock serves one client at a time
    let c2 = logged_in_with(&mut mock2, |_| {}).await;
    let t = tx.clone();
    c2.messenger().get_conversation_cb(CONV, move |r| {
        let _ = t.send(r.map(|_| ()));
    });
    drop(c2);
    let r = within(rx.recv()).await.unwrap();
    assert!(matches!(r, Err(Error::ConnectionClosed(_))), "{r:?}");
}

#[tokio::test]
async fn bad_input_is_rejected_locally_and_nothing_is_sent() {
    let mut mock = Mock::start(None).await;
    let c = logged_in_with(&mut mock, |_| {}).await;
    let m = c.messenger();
    let conv = m
        .recreate_conversation(ConversationConfig::default(), CONV, 5, 0, 0)
        .unwrap();
    let msg = m.recreate_message(CONV, CONV, "t", vec![], 1).unwrap();

    fn invalid<T: std::fmt::Debug>(r: vox_messenger::Result<T>, code: u32) {
        match r {
            Err(e @ Error::InvalidArgument { .. }) => assert_eq!(e.code(), code, "{e}"),
            other => panic!("expected an invalid argument, got {other:?}"),
        }
    }

    let uuids: Vec<String> = (0..31).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let refs: Vec<&str> = uuids.iter().map(String::as_str).collect();
    invalid(within(m.get_conversations(&refs)).await, 10001);
    invalid(within(m.get_conversations(&[])).await, 10001);
    invalid(
        within(m.get_conversations(&[CONV, "not-a-uuid"])).await,
        10001,
    );
    let names: Vec<String> = (0..51).map(|i| format!("u{i}@app.acc")).collect();
    let nrefs: Vec<&str> = names.iter().map(String::as_str).collect();
    invalid(within(m.get_users_by_name(&nrefs)).await, 10001);
    let ids: Vec<u64> = (1..=51).collect();
    invalid(within(m.get_users_by_im_id(&ids)).await, 10001);
    invalid(within(m.get_users_by_im_id(&[])).await, 10001);
    invalid(within(m.get_users_by_im_id(&[1002, 0])).await, 10001);
    invalid(within(m.get_user_by_im_id(0)).await, 10001);
    invalid(within(m.get_user_by_name("")).await, 10001);
    invalid(within(m.get_conversation("")).await, 10001);
    invalid(
        within(m.get_conversation("67983249-cf74-435d-9b3a")).await,
        10001,
    );
    invalid(within(m.join_conversation("x")).await, 10001);
    invalid(within(m.leave_conversation("")).await, 10001);
    invalid(within(m.subscribe(&[])).await, 10001);
    invalid(within(m.unsubscribe(&[0])).await, 10001);
    invalid(within(m.edit_user(None, None)).await, 10001);
    let big = obj(json!({"blob": "x".repeat(5 * 1024)}));
    invalid(
        within(m.create_conversation(ConversationConfig {
            participants: vec![ConversationParticipant::new(1002)],
            custom_data: big.clone(),
            ..Default::default()
        }))
        .await,
        10001,
    );
    invalid(
        within(m.create_conversation(ConversationConfig::default())).await,
        10001,
    );
    let mut c2 = conv.clone();
    c2.set_custom_data(big.clone());
    invalid(within(c2.update()).await, 10001);
    assert!(
        m.recreate_conversation(
            ConversationConfig {
                custom_data: big,
                ..Default::default()
            },
            CONV,
            1,
            0,
            0
        )
        .is_err()
    );
    assert!(
        m.recreate_conversation(ConversationConfig::default(), "bad", 1, 0, 0)
            .is_err()
    );
    assert!(m.recreate_message("", CONV, "t", vec![], 1).is_err());
    invalid(within(conv.add_participants(&[])).await, 10001);
    invalid(
        within(conv.edit_participants(&[ConversationParticipant::new(0)])).await,
        10001,
    );
    invalid(within(conv.remove_participants(&[])).await, 10001);
    invalid(within(conv.send_message("", vec![])).await, 10001);
    invalid(
        within(conv.send_message("", vec![JsonObject::new()])).await,
        10001,
    );
    invalid(
        within(conv.send_message(&"é".repeat(5001), vec![])).await,
        10001,
    );
    invalid(within(msg.update("", vec![])).await, 10001);
    invalid(within(conv.retransmit_events(1, 101)).await, 10001);
    invalid(within(conv.retransmit_events(0, 3)).await, 10001);
    invalid(within(conv.retransmit_events(5, 3)).await, 28);
    invalid(within(conv.retransmit_events_from(1, 101)).await, 10001);
    invalid(within(conv.retransmit_events_from(1, 0)).await, 10001);
    invalid(within(conv.retransmit_events_to(0, 5)).await, 10001);
    mock.assert_silent(Duration::from_millis(300)).await;

    // The limits themselves are accepted.
    let refs30: Vec<&str> = refs[..30].to_vec();
    m.get_conversations_cb(&refs30, |_| {});
    assert_eq!(
        mock.next_frame().await["payload"]["uuid"]
            .as_array()
            .unwrap()
            .len(),
        30
    );
    m.get_users_by_name_cb(&nrefs[..50], |_| {});
    assert_eq!(
        mock.next_frame().await["payload"]["users"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    conv.retransmit_events_cb(1, 100, |_| {});
    assert_eq!(mock.next_frame().await["payload"]["events_to"], 100);
    conv.send_message_cb(&"é".repeat(5000), vec![], |_| {});
    assert_eq!(mock.next_frame().await["event"], "sendMessage");
}

#[tokio::test]
async fn multi_frame_replies_complete_in_request_order() {
    let mut mock = Mock::start(None).await;
    let c = logged_in_with(&mut mock, |_| {}).await;
    let m = c.messenger();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t = tx.clone();
    m.get_users_by_name_cb(&["user2@app.acc", "user3@app.acc"], move |r| {
        let _ = t.send(format!(
            "{:?}",
            r.map(|v| v.into_iter().map(|e| e.user.im_id).collect::<Vec<_>>())
        ));
    });
    let req = mock.next_frame().await;
    let uuid = req["request_uuid"].clone();
    let user = |id: u64, name: &str| json!({"service":"chat","event":"onGetUser","payload":{"initiator":1001,"on_incoming_event":"getUsers","object":{"user_id":id,"user_name":name,"display_name":"x","custom_data":{}}},"request_uuid":uuid});
    // Answered in reverse order, with a stray name in between: completes once both arrived.
    mock.push(user(1003, "user3@app.acc"));
    mock.push(user(1009, "someone@app.acc"));
    mock.push(user(1002, "user2@app.acc"));
    assert_eq!(within(rx.recv()).await.unwrap(), "Ok([1002, 1003])");

    // Retransmit: completes after `count` frames; an empty one at once.
    let conv = m
        .recreate_conversation(ConversationConfig::default(), CONV, 5, 0, 0)
        .unwrap();
    let t = tx.clone();
    conv.retransmit_events_cb(1, 3, move |r| {
        let r = r.unwrap();
        let seqs: Vec<u64> = r.events.iter().map(|e| e.sequence()).collect();
        let _ = t.send(format!("{seqs:?} {}..{}", r.from, r.to));
    });
    let uuid = mock.next_frame().await["request_uuid"].clone();
    for seq in 1..=3u64 {
        let inner = if seq == 1 {
            json!({"event":"onCreateConversation","payload":{"initiator":1001,"on_incoming_event":"createConversation","seq":1,"object":{"uuid":CONV,"title":"t","participants":[]}}})
        } else {
            json!({"event":"onSendMessage","payload":{"initiator":1002,"on_incoming_event":"sendMessage","seq":seq,"object":{"uuid":uuid::Uuid::new_v4().to_string(),"conversation":CONV,"text":"x"}}})
        };
        mock.push(json!({"service":"chat","event":"onRetransmitEvents","payload":{"initiator":1001,"on_incoming_event":"retransmitEvents","count":3,"from_seq":1,"to_seq":3,"object":inner},"request_uuid":uuid}));
    }
    assert_eq!(within(rx.recv()).await.unwrap(), "[1, 2, 3] 1..3");
    let t = tx.clone();
    conv.retransmit_events_from_cb(9, 5, move |r| {
        let _ = t.send(format!("{}", r.unwrap().events.len()));
    });
    let uuid = mock.next_frame().await["request_uuid"].clone();
    mock.push(json!({"service":"chat","event":"onRetransmitEvents","payload":{"initiator":1001,"on_incoming_event":"retransmitEvents","count":0},"request_uuid":uuid}));
    assert_eq!(within(rx.recv()).await.unwrap(), "0");

    // onError settles the request with a typed messenger error.
    let t = tx.clone();
    m.get_user_by_name_cb("nobody@app.acc", move |r| {
        let e = r.unwrap_err();
        let _ = t.send(format!("{} {:?}", e.code(), e.messenger_error()));
    });
    let uuid = mock.next_frame().await["request_uuid"].clone();
    mock.push(json!({"service":"chat","event":"onError","payload":{"initiator":1001,"on_incoming_event":"getUser","code":25,"description":"User is not found."},"request_uuid":uuid}));
    assert_eq!(within(rx.recv()).await.unwrap(), "25 Some(UserNotFound)");
}

#[tokio::test]
async fn a_cancelled_connect_completes_with_cancelled() {
    // A TCP listener that accepts and never answers the WebSocket handshake: connect stays pending.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let _keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let c = Client::new(common::config(&format!("ws://{addr}"))).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let op = c.connect_cb(move |r| {
        let _ = tx.send(r);
    });
    c.cancel(op);
    let r = within(rx.recv()).await.expect("the connect completes");
    assert!(matches!(r, Err(Error::Cancelled)), "got {r:?}");
    // Exactly once: nothing else arrives.
    assert!(rx.try_recv().is_err());
}
