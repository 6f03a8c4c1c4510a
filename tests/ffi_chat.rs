//! The C ABI against the real server (in-process): two users chat and receive each other's
//! events, every messenger, conversation and message call, login variants, cancel races, freeing
//! inside callbacks, calling back into the library from callbacks, shutdown with requests in
//! flight.

mod ffi_util;

use ::vox_messenger::ffi::all::*;
use ffi_util::*;
use std::ffi::{CString, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};

fn user_id(m: *const vox_messenger, name: &str) -> u64 {
    let n = cs(name);
    // SAFETY: valid handles.
    unsafe {
        let d = call(|c, op, e| vox_messenger_get_user_by_name(m, n.as_ptr(), c, op, e));
        let ev = d.ok();
        assert_eq!(event_type(ev), VOX_EVENT_GET_USER);
        let mut u = null_mut();
        assert_eq!(vox_event_user(ev, &mut u), VOX_OK);
        let mut id = 0;
        assert_eq!(vox_user_im_id(u, &mut id), VOX_OK);
        vox_user_free(u);
        vox_event_free(ev);
        id
    }
}

fn participant(id: u64) -> vox_participant {
    vox_participant {
        im_user_id: id,
        can_write: true,
        can_edit_messages: true,
        can_remove_messages: true,
        ..Default::default()
    }
}

/// Create a conversation of `m` with `others`; returns the owned conversation.
fn create(
    m: *const vox_messenger,
    title: &str,
    others: &[u64],
    public: bool,
) -> *mut vox_conversation {
    let ps: Vec<_> = others.iter().map(|&i| participant(i)).collect();
    let t = cs(title);
    let data = cs(r#"{"topic":"tests"}"#);
    let cfg = vox_conversation_config {
        participants: ps.as_ptr(),
        participant_count: ps.len(),
        title: t.as_ptr(),
        direct: false,
        public_join: public,
        uber: false,
        custom_data_json: data.as_ptr(),
    };
    // SAFETY: valid handles and config.
    unsafe {
        let d = call(|c, op, e| vox_messenger_create_conversation(m, &cfg, c, op, e));
        let ev = d.ok();
        assert_eq!(event_type(ev), VOX_EVENT_CREATE_CONVERSATION);
        let mut conv = null_mut();
        assert_eq!(vox_event_conversation(ev, &mut conv), VOX_OK);
        vox_event_free(ev);
        conv
    }
}

fn message_of(ev: *const vox_event) -> *mut vox_message {
    let mut msg = null_mut();
    // SAFETY: a live event.
    assert_eq!(unsafe { vox_event_message(ev, &mut msg) }, VOX_OK);
    msg
}

fn text_of(msg: *const vox_message) -> String {
    // SAFETY: a live message.
    get_str(|o| unsafe { vox_message_text(msg, o) })
}

#[test]
fn two_users_chat_and_receive_each_others_events() {
    let srv = start_server();
    let (a, ma) = logged_in(&srv.ws, USER1);
    let (b, mb) = logged_in(&srv.ws, USER2);
    // SAFETY: valid handles throughout; events are owned copies freed after use.
    unsafe {
        let mut me = null_mut();
        assert_eq!(vox_messenger_get_me(ma, &mut me), VOX_OK);
        assert_eq!(get_str(|o| vox_user_name(me, o)), "user1@app.acc");
        let mut me_id = 0;
        assert_eq!(vox_user_im_id(me, &mut me_id), VOX_OK);
        assert!(me_id > 0, "get_me carries the IM id");
        assert_eq!(get_str(|o| vox_user_display_name(me, o)), "User One");
        assert_eq!(vox_user_free(me), VOX_OK);
        let mut st = 0;
        assert_eq!(vox_client_state(a, &mut st), VOX_OK);
        assert_eq!(st, VOX_STATE_LOGGED_IN);
        let ida = user_id(mb, "user1@app.acc");
        let idb = user_id(ma, "user2@app.acc");
        assert_ne!(ida, idb);

        let mut listeners = Vec::new();
        let mut on = |m: *mut vox_messenger, t: i32| {
            let (l, ev) = listener();
            let mut id = 0;
            assert_eq!(vox_messenger_on(m, 1 << t, l, &mut id), VOX_OK);
            listeners.push((m, id));
            ev
        };
        let b_create = on(mb, VOX_EVENT_CREATE_CONVERSATION);
        let b_send = on(mb, VOX_EVENT_SEND_MESSAGE);
        let b_edit = on(mb, VOX_EVENT_EDIT_MESSAGE);
        let b_typing = on(mb, VOX_EVENT_TYPING);
        let b_remove = on(mb, VOX_EVENT_REMOVE_MESSAGE);
        let a_send = on(ma, VOX_EVENT_SEND_MESSAGE);
        let a_read = on(ma, VOX_EVENT_READ);

        // A creates a conversation with B; B hears of it.
        let conv = create(ma, "C ABI chat", &[idb], false);
        let uuid = get_str(|o| vox_conversation_uuid(conv, o));
        assert_eq!(get_str(|o| vox_conversation_title(conv, o)), "C ABI chat");
        assert_eq!(
            get_str(|o| vox_conversation_custom_data(conv, o)),
            r#"{"topic":"tests"}"#
        );
        let mut n = 0;
        assert_eq!(vox_conversation_participant_count(conv, &mut n), VOX_OK);
        assert_eq!(n, 2);
        let mut seen = Vec::new();
        for i in 0..n {
            let mut p = vox_participant::default();
            assert_eq!(vox_conversation_participant_at(conv, i, &mut p), VOX_OK);
            seen.push(p.im_user_id);
            if p.im_user_id == idb {
                assert!(p.can_write && !p.owner);
            }
        }
        seen.sort();
        let mut want = vec![ida, idb];
        want.sort();
        assert_eq!(seen, want);
        let ev = b_create.next(|e| get_str(|o| vox_event_conversation_uuid(e, o)) == uuid);
        let mut init = 0;
        assert_eq!(vox_event_initiator(ev, &mut init), VOX_OK);
        assert_eq!(init, ida);
        assert_eq!(get_str(|o| vox_event_action(ev, o)), "createConversation");
        let mut conv_b = null_mut();
        assert_eq!(vox_event_conversation(ev, &mut conv_b), VOX_OK);
        vox_event_free(ev);

        // A sends; B receives text, payload, sender, sequence.
        let text = cs("hello from C");
        let payload = cs(r#"[{"kind":"greeting","n":1}]"#);
        let d = call(|c, op, e| {
            vox_conversation_send_message(conv, text.as_ptr(), payload.as_ptr(), c, op, e)
        });
        let sent = d.ok();
        assert_eq!(event_type(sent), VOX_EVENT_SEND_MESSAGE);
        let msg_a = message_of(sent);
        let mut seq = 0;
        assert_eq!(vox_event_sequence(sent, &mut seq), VOX_OK);
        assert!(seq >= 1);
        vox_event_free(sent);
        let ev = b_send.next(|_| true);
        let msg_b = message_of(ev);
        assert_eq!(text_of(msg_b), "hello from C");
        assert_eq!(
            get_str(|o| vox_message_payload(msg_b, o)),
            r#"[{"kind":"greeting","n":1}]"#
        );
        let mut sender = 0;
        assert_eq!(vox_message_sender(msg_b, &mut sender), VOX_OK);
        assert_eq!(sender, ida);
        assert_eq!(get_str(|o| vox_message_conversation(msg_b, o)), uuid);
        assert_eq!(
            get_str(|o| vox_message_uuid(msg_b, o)),
            get_str(|o| vox_message_uuid(msg_a, o))
        );
        let mut ts = 0;
        assert_eq!(vox_event_timestamp(ev, &mut ts), VOX_OK);
        assert!(ts > 1_600_000_000);
        // Fields an event does not carry are NO_VALUE, not garbage.
        assert_eq!(vox_event_user(ev, &mut null_mut()), VOX_ERR_NO_VALUE);
        assert_eq!(vox_event_is_online(ev, &mut false), VOX_ERR_NO_VALUE);
        assert_eq!(vox_event_item_count(ev, &mut 0), VOX_ERR_NO_VALUE);
        vox_event_free(ev);

        // B answers through the conversation it was given; A receives it.
        let reply = cs("hi from B");
        let d = call(|c, op, e| {
            vox_conversation_send_message(conv_b, reply.as_ptr(), null(), c, op, e)
        });
        let r = d.ok();
        let mut reply_seq = 0;
        assert_eq!(vox_event_sequence(r, &mut reply_seq), VOX_OK);
        vox_event_free(r);
        let ev = a_send.next(|e| {
            let m = message_of(e);
            let t = text_of(m);
            vox_message_free(m);
            t == "hi from B"
        });
        vox_event_free(ev);

        // A edits its message; B sees the edit.
        let edited = cs("hello from C (edited)");
        let d = call(|c, op, e| vox_message_update(msg_a, edited.as_ptr(), null(), c, op, e));
        vox_event_free(d.ok());
        let ev = b_edit.next(|_| true);
        let m = message_of(ev);
        assert_eq!(text_of(m), "hello from C (edited)");
        vox_message_free(m);
        vox_event_free(ev);

        // A types; B sees it. A second call within 10 s is discarded.
        let d = call(|c, op, e| vox_conversation_typing(conv, c, op, e));
        vox_event_free(d.ok());
        let d = call(|c, op, e| vox_conversation_typing(conv, c, op, e));
        assert_eq!((d.status, d.code), (VOX_ERR_CALL_DISCARDED, 10000));
        let ev = b_typing.next(|_| true);
        assert_eq!(get_str(|o| vox_event_conversation_uuid(ev, o)), uuid);
        vox_event_free(ev);

        // B marks the reply as read; A sees the read mark.
        let d = call(|c, op, e| vox_conversation_mark_as_read(conv_b, reply_seq, c, op, e));
        vox_event_free(d.ok());
        let ev = a_read.next(|_| true);
        let mut s = 0;
        assert_eq!(vox_event_sequence(ev, &mut s), VOX_OK);
        assert_eq!(s, reply_seq);
        vox_event_free(ev);

        // History: retransmit everything so far.
        let d = call(|c, op, e| vox_conversation_retransmit_events(conv, 1, reply_seq, c, op, e));
        let r = d.ok();
        assert_eq!(event_type(r), VOX_EVENT_RETRANSMIT_EVENTS);
        let (mut from, mut to) = (0, 0);
        assert_eq!(vox_event_retransmit_range(r, &mut from, &mut to), VOX_OK);
        assert_eq!((from, to), (1, reply_seq));
        let mut items = 0;
        assert_eq!(vox_event_item_count(r, &mut items), VOX_OK);
        assert!(items >= 2, "{items}");
        let mut texts = Vec::new();
        for i in 0..items {
            let mut it = null_mut();
            assert_eq!(vox_event_item_at(r, i, &mut it), VOX_OK);
            if event_type(it) == VOX_EVENT_SEND_MESSAGE {
                let m = message_of(it);
                texts.push(text_of(m));
                vox_message_free(m);
            }
            vox_event_free(it);
        }
        assert_eq!(
            vox_event_item_at(r, items, &mut null_mut()),
            VOX_ERR_OUT_OF_RANGE
        );
        assert!(texts.contains(&"hi from B".to_string()), "{texts:?}");
        vox_event_free(r);

        // A removes its message; B sees the removal.
        let d = call(|c, op, e| vox_message_remove(msg_a, c, op, e));
        vox_event_free(d.ok());
        let ev = b_remove.next(|_| true);
        vox_event_free(ev);

        for (m, id) in listeners {
            assert_eq!(vox_messenger_off(m, id), VOX_OK);
        }
        for h in [msg_a, msg_b] {
            assert_eq!(vox_message_free(h), VOX_OK);
        }
        assert_eq!(vox_conversation_free(conv), VOX_OK);
        assert_eq!(vox_conversation_free(conv_b), VOX_OK);
        let d = call(|c, op, e| vox_client_disconnect(a, c, op, e));
        assert_eq!(d.status, VOX_OK, "{}", d.message);
        assert!(d.result == 0);
        for (c, m) in [(a, ma), (b, mb)] {
            assert_eq!(vox_messenger_free(m), VOX_OK);
            assert_eq!(vox_client_free(c), VOX_OK);
        }
    }
}

#[test]
fn every_messenger_conversation_and_message_call() {
    let srv = start_server();
    let (a, ma) = logged_in(&srv.ws, USER1);
    let (c3, m3) = logged_in(&srv.ws, USER3);
    // SAFETY: valid handles throughout.
    unsafe {
        let idb = user_id(ma, "user2@app.acc");
        let id3 = user_id(ma, "user3@app.acc");
        let ida = user_id(m3, "user1@app.acc");

        // Users: by id, several by name (in order), several by id, edit, push settings.
        let d = call(|c, op, e| vox_messenger_get_user_by_im_id(ma, idb, c, op, e));
        let ev = d.ok();
        let mut u = null_mut();
        assert_eq!(vox_event_user(ev, &mut u), VOX_OK);
        assert_eq!(get_str(|o| vox_user_name(u, o)), "user2@app.acc");
        assert_eq!(get_str(|o| vox_user_display_name(u, o)), "User Two");
        assert_eq!(
            vox_user_private_custom_data(u, &mut null_mut()),
            VOX_ERR_NO_VALUE
        );
        let mut del = true;
        assert_eq!(vox_user_is_deleted(u, &mut del), VOX_OK);
        assert!(!del);
        vox_user_free(u);
        vox_event_free(ev);
        let names = [cs("user3@app.acc"), cs("user2@app.acc")];
        let ptrs: Vec<_> = names.iter().map(|s| s.as_ptr()).collect();
        let d = call(|c, op, e| vox_messenger_get_users_by_name(ma, ptrs.as_ptr(), 2, c, op, e));
        let r = d.ok();
        let mut n = 0;
        assert_eq!(vox_event_item_count(r, &mut n), VOX_OK);
        assert_eq!(n, 2);
        let mut got = Vec::new();
        for i in 0..n {
            let mut it = null_mut();
            assert_eq!(vox_event_item_at(r, i, &mut it), VOX_OK);
            let mut u = null_mut();
            assert_eq!(vox_event_user(it, &mut u), VOX_OK);
            got.push(get_str(|o| vox_user_name(u, o)));
            vox_user_free(u);
            vox_event_free(it);
        }
        assert_eq!(got, ["user3@app.acc", "user2@app.acc"]);
        vox_event_free(r);
        let ids = [idb, id3];
        let d = call(|c, op, e| vox_messenger_get_users_by_im_id(ma, ids.as_ptr(), 2, c, op, e));
        let r = d.ok();
        assert_eq!(vox_event_item_count(r, &mut n), VOX_OK);
        assert_eq!(n, 2);
        vox_event_free(r);
        let pub_data = cs(r#"{"color":"blue"}"#);
        let priv_data = cs(r#"{"secret":1}"#);
        let d = call(|c, op, e| {
            vox_messenger_edit_user(ma, pub_data.as_ptr(), priv_data.as_ptr(), c, op, e)
        });
        let ev = d.ok();
        assert_eq!(event_type(ev), VOX_EVENT_EDIT_USER);
        let mut u = null_mut();
        assert_eq!(vox_event_user(ev, &mut u), VOX_OK);
        assert_eq!(
            get_str(|o| vox_user_custom_data(u, o)),
            r#"{"color":"blue"}"#
        );
        assert_eq!(
            get_str(|o| vox_user_private_custom_data(u, o)),
            r#"{"secret":1}"#
        );
        vox_user_free(u);
        vox_event_free(ev);
        let kinds = [VOX_NOTIFICATION_SEND_MESSAGE, VOX_NOTIFICATION_EDIT_MESSAGE];
        let d = call(|c, op, e| {
            vox_messenger_manage_push_notifications(ma, kinds.as_ptr(), 2, c, op, e)
        });
        let ev = d.ok();
        let mut u = null_mut();
        assert_eq!(vox_event_user(ev, &mut u), VOX_OK);
        let mut cnt = 0;
        assert_eq!(
            vox_user_list_count(u, VOX_USER_NOTIFICATIONS, &mut cnt),
            VOX_OK
        );
        assert_eq!(cnt, 2);
        assert_eq!(
            get_str(|o| vox_user_list_at(u, VOX_USER_NOTIFICATIONS, 0, o)),
            "onSendMessage"
        );
        vox_user_free(u);
        vox_event_free(ev);

        // Presence and subscriptions.
        let d = call(|c, op, e| vox_messenger_set_status(ma, true, c, op, e));
        let ev = d.ok();
        let mut online = false;
        assert_eq!(vox_event_is_online(ev, &mut online), VOX_OK);
        assert!(online);
        vox_event_free(ev);
        let d = call(|c, op, e| vox_messenger_subscribe(ma, ids.as_ptr(), 2, c, op, e));
        let ev = d.ok();
        assert_eq!(event_type(ev), VOX_EVENT_SUBSCRIBE);
        vox_event_free(ev);
        let d = call(|c, op, e| vox_messenger_get_subscriptions(ma, c, op, e));
        let ev = d.ok();
        assert_eq!(vox_event_user_id_count(ev, &mut n), VOX_OK);
        let mut subs = Vec::new();
        for i in 0..n {
            let mut id = 0;
            assert_eq!(vox_event_user_id_at(ev, i, &mut id), VOX_OK);
            subs.push(id);
        }
        subs.sort();
        let mut want = ids.to_vec();
        want.sort();
        assert_eq!(subs, want);
        vox_event_free(ev);
        let d = call(|c, op, e| vox_messenger_unsubscribe(ma, ids.as_ptr(), 1, c, op, e));
        assert_eq!(event_type(d.ok()), VOX_EVENT_UNSUBSCRIBE);
        vox_event_free(d.result as *mut _);
        let d = call(|c, op, e| vox_messenger_unsubscribe_from_all(ma, c, op, e));
        vox_event_free(d.ok());

        // Conversations: public one, get, get several, public list, join, leave, update,
        // participants.
        let conv = create(ma, "public room", &[idb], true);
        let uuid = get_str(|o| vox_conversation_uuid(conv, o));
        let u_c = CString::new(uuid.clone()).unwrap();
        let d = call(|c, op, e| vox_messenger_get_conversation(ma, u_c.as_ptr(), c, op, e));
        let ev = d.ok();
        assert_eq!(event_type(ev), VOX_EVENT_GET_CONVERSATION);
        vox_event_free(ev);
        let list = [u_c.as_ptr()];
        let d = call(|c, op, e| vox_messenger_get_conversations(ma, list.as_ptr(), 1, c, op, e));
        let r = d.ok();
        assert_eq!(vox_event_item_count(r, &mut n), VOX_OK);
        assert_eq!(n, 1);
        vox_event_free(r);
        let d = call(|c, op, e| vox_messenger_get_public_conversations(m3, c, op, e));
        let ev = d.ok();
        assert_eq!(vox_event_conversation_list_count(ev, &mut n), VOX_OK);
        let pubs: Vec<String> = (0..n)
            .map(|i| get_str(|o| vox_event_conversation_list_at(ev, i, o)))
            .collect();
        assert!(pubs.contains(&uuid), "{pubs:?}");
        vox_event_free(ev);
        let d = call(|c, op, e| vox_messenger_join_conversation(m3, u_c.as_ptr(), c, op, e));
        vox_event_free(d.ok());
        let d = call(|c, op, e| vox_messenger_leave_conversation(m3, u_c.as_ptr(), c, op, e));
        vox_event_free(d.ok());
        assert_eq!(
            vox_conversation_set_title(conv, cs("renamed").as_ptr()),
            VOX_OK
        );
        assert_eq!(vox_conversation_set_public_join(conv, false), VOX_OK);
        let d = call(|c, op, e| vox_conversation_update(conv, c, op, e));
        let ev = d.ok();
        assert_eq!(event_type(ev), VOX_EVENT_EDIT_CONVERSATION);
        let mut updated = null_mut();
        assert_eq!(vox_event_conversation(ev, &mut updated), VOX_OK);
        assert_eq!(get_str(|o| vox_conversation_title(updated, o)), "renamed");
        vox_conversation_free(updated);
        vox_event_free(ev);
        let p3 = [participant(id3)];
        let d = call(|c, op, e| vox_conversation_add_participants(conv, p3.as_ptr(), 1, c, op, e));
        vox_event_free(d.ok());
        let mut p3e = p3;
        p3e[0].can_manage_participants = true;
        let d =
            call(|c, op, e| vox_conversation_edit_participants(conv, p3e.as_ptr(), 1, c, op, e));
        vox_event_free(d.ok());
        let d =
            call(|c, op, e| vox_conversation_remove_participants(conv, p3.as_ptr(), 1, c, op, e));
        vox_event_free(d.ok());
        // A server refusal keeps the protocol's number: user3 is no longer a participant.
        let mut conv3 = null_mut();
        let cfg = vox_conversation_config {
            participants: null(),
            participant_count: 0,
            title: null(),
            direct: false,
            public_join: false,
            uber: false,
            custom_data_json: null(),
        };
        assert_eq!(
            vox_messenger_recreate_conversation(
                m3,
                &cfg,
                u_c.as_ptr(),
                0,
                0,
                0,
                &mut conv3,
                null_mut()
            ),
            VOX_OK
        );
        let d = call(|c, op, e| {
            vox_conversation_send_message(conv3, cs("let me in").as_ptr(), null(), c, op, e)
        });
        assert_eq!(d.status, VOX_ERR_MESSENGER, "{}", d.message);
        assert!(d.code > 0 && d.code < 10000, "{}", d.code);
        vox_conversation_free(conv3);

        // Messages and history windows.
        for i in 0..3 {
            let t = cs(&format!("m{i}"));
            let d =
                call(|c, op, e| vox_conversation_send_message(conv, t.as_ptr(), null(), c, op, e));
            vox_event_free(d.ok());
        }
        let mut last = 0;
        let d = call(|c, op, e| vox_messenger_get_conversation(ma, u_c.as_ptr(), c, op, e));
        let ev = d.ok();
        let mut fresh = null_mut();
        assert_eq!(vox_event_conversation(ev, &mut fresh), VOX_OK);
        assert_eq!(vox_conversation_last_sequence(fresh, &mut last), VOX_OK);
        vox_conversation_free(fresh);
        vox_event_free(ev);
        assert!(last >= 3);
        let d =
            call(|c, op, e| vox_conversation_retransmit_events_from(conv, last - 1, 2, c, op, e));
        let r = d.ok();
        assert_eq!(vox_event_item_count(r, &mut n), VOX_OK);
        assert_eq!(n, 2);
        vox_event_free(r);
        let d = call(|c, op, e| vox_conversation_retransmit_events_to(conv, last, 3, c, op, e));
        let r = d.ok();
        assert_eq!(vox_event_item_count(r, &mut n), VOX_OK);
        assert_eq!(n, 3);
        vox_event_free(r);
        // A recreated message can be edited and removed.
        let d = call(|c, op, e| {
            vox_conversation_send_message(conv, cs("to recreate").as_ptr(), null(), c, op, e)
        });
        let ev = d.ok();
        let m = message_of(ev);
        let muuid = CString::new(get_str(|o| vox_message_uuid(m, o))).unwrap();
        vox_message_free(m);
        vox_event_free(ev);
        let mut rm = null_mut();
        assert_eq!(
            vox_messenger_recreate_message(
                ma,
                muuid.as_ptr(),
                u_c.as_ptr(),
                cs("x").as_ptr(),
                null(),
                0,
                &mut rm,
                null_mut()
            ),
            VOX_OK
        );
        let d = call(|c, op, e| {
            vox_message_update(
                rm,
                cs("recreated").as_ptr(),
                cs(r#"[{"x":1}]"#).as_ptr(),
                c,
                op,
                e,
            )
        });
        let ev = d.ok();
        assert_eq!(event_type(ev), VOX_EVENT_EDIT_MESSAGE);
        vox_event_free(ev);
        let d = call(|c, op, e| vox_message_remove(rm, c, op, e));
        assert_eq!(event_type(d.ok()), VOX_EVENT_REMOVE_MESSAGE);
        vox_event_free(d.result as *mut _);
        vox_message_free(rm);
        let _ = ida;

        vox_conversation_free(conv);
        for (c, m) in [(a, ma), (c3, m3)] {
            vox_messenger_free(m);
            vox_client_free(c);
        }
    }
}

#[test]
fn login_variants_and_typed_failures() {
    let srv = start_server();
    let user = cs(USER1);
    // SAFETY: valid handles throughout.
    unsafe {
        // A wrong password: LOGIN_FAILED with the server's code 401.
        let c = new_client(&srv.ws);
        let d = call(|cm, op, e| vox_client_connect(c, cm, op, e));
        assert_eq!(d.status, VOX_OK);
        let d = call(|cm, op, e| {
            vox_client_login(
                c,
                user.as_ptr(),
                cs("wrong").as_ptr(),
                VOX_DIGEST_SHA256,
                null(),
                cm,
                op,
                e,
            )
        });
        assert_eq!(
            (d.status, d.code),
            (VOX_ERR_LOGIN_FAILED, 401),
            "{}",
            d.message
        );
        // The right one, with options; the result carries tokens.
        let token = cs("push-token");
        let opts = vox_login_options {
            receive_calls: 0,
            device_token: token.as_ptr(),
        };
        let d = call(|cm, op, e| {
            vox_client_login(
                c,
                user.as_ptr(),
                cs("secret").as_ptr(),
                VOX_DIGEST_SHA256,
                &opts,
                cm,
                op,
                e,
            )
        });
        let r = d.ok();
        assert_eq!(event_type(r), VOX_EVENT_LOGIN);
        assert_eq!(get_str(|o| vox_event_display_name(r, o)), "User One");
        let refresh = CString::new(get_str(|o| vox_event_refresh_token(r, o))).unwrap();
        let (mut ae, mut re) = (0, 0);
        assert_eq!(vox_event_token_expiry(r, &mut ae, &mut re), VOX_OK);
        assert!(ae > 0 && re > 0);
        vox_event_free(r);
        // Refresh: new tokens; then token login on another client.
        let d = call(|cm, op, e| {
            vox_client_token_refresh(c, user.as_ptr(), refresh.as_ptr(), null(), cm, op, e)
        });
        let r = d.ok();
        assert_eq!(event_type(r), VOX_EVENT_TOKENS);
        let access = CString::new(get_str(|o| vox_event_access_token(r, o))).unwrap();
        vox_event_free(r);
        let d = call(|cm, op, e| {
            vox_client_token_refresh(c, user.as_ptr(), refresh.as_ptr(), null(), cm, op, e)
        });
        assert_eq!(
            d.status, VOX_ERR_LOGIN_FAILED,
            "a refresh token is single use"
        );
        let c2 = new_client(&srv.ws);
        assert_eq!(
            call(|cm, op, e| vox_client_connect(c2, cm, op, e)).status,
            VOX_OK
        );
        let d = call(|cm, op, e| {
            vox_client_login_with_token(c2, user.as_ptr(), access.as_ptr(), null(), cm, op, e)
        });
        let r = d.ok();
        assert_eq!(get_str(|o| vox_event_display_name(r, o)), "User One");
        vox_event_free(r);
        // One-time key.
        let c3 = new_client(&srv.ws);
        assert_eq!(
            call(|cm, op, e| vox_client_connect(c3, cm, op, e)).status,
            VOX_OK
        );
        let d =
            call(|cm, op, e| vox_client_request_one_time_login_key(c3, user.as_ptr(), cm, op, e));
        let r = d.ok();
        assert_eq!(event_type(r), VOX_EVENT_ONE_TIME_KEY);
        let key = CString::new(get_str(|o| vox_event_one_time_key(r, o))).unwrap();
        vox_event_free(r);
        let hash = CString::new(get_str(|o| {
            vox_one_time_key_hash(key.as_ptr(), user.as_ptr(), cs("secret").as_ptr(), o)
        }))
        .unwrap();
        let d = call(|cm, op, e| {
            vox_client_login_with_one_time_key(c3, user.as_ptr(), hash.as_ptr(), null(), cm, op, e)
        });
        let r = d.ok();
        assert_eq!(event_type(r), VOX_EVENT_LOGIN);
        vox_event_free(r);
        let mut st = 0;
        assert_eq!(vox_client_state(c3, &mut st), VOX_OK);
        assert_eq!(st, VOX_STATE_LOGGED_IN);
        for h in [c, c2, c3] {
            assert_eq!(vox_client_free(h), VOX_OK);
        }
    }
}

#[test]
fn connection_events_reach_a_client_listener() {
    let srv = start_server();
    struct L(Sender<(i32, i32)>);
    unsafe extern "C" fn on(ud: *mut c_void, e: *const vox_client_event) {
        // SAFETY: the boxed sender; the event is valid for the call.
        unsafe { (*(ud as *const L)).0.send(((*e).kind, (*e).state)).unwrap() };
    }
    unsafe extern "C" fn rel(ud: *mut c_void) {
        // SAFETY: boxed below, released once.
        drop(unsafe { Box::from_raw(ud as *mut L) });
    }
    let (tx, rx) = channel();
    let c = new_client(&srv.ws);
    // SAFETY: valid handles.
    unsafe {
        let l = vox_client_listener {
            callback: Some(on),
            user_data: Box::into_raw(Box::new(L(tx))).cast(),
            release: Some(rel),
        };
        let mut id = 0;
        assert_eq!(vox_client_on_event(c, l, &mut id), VOX_OK);
        assert_eq!(
            call(|cm, op, e| vox_client_connect(c, cm, op, e)).status,
            VOX_OK
        );
        let states: Vec<_> = (0..2).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
        assert_eq!(
            states,
            [
                (VOX_CLIENT_EVENT_STATE_CHANGED, VOX_STATE_CONNECTING),
                (VOX_CLIENT_EVENT_STATE_CHANGED, VOX_STATE_CONNECTED)
            ]
        );
        assert_eq!(vox_client_notify_network_changed(c), VOX_OK);
        let e = rx.recv_timeout(WAIT).unwrap();
        assert!(
            e.0 == VOX_CLIENT_EVENT_RECONNECTING
                || e == (VOX_CLIENT_EVENT_STATE_CHANGED, VOX_STATE_RECONNECTING),
            "{e:?}"
        );
        assert_eq!(vox_client_off_event(c, id), VOX_OK);
        assert_eq!(vox_client_free(c), VOX_OK);
    }
}

#[test]
fn cancel_races_complete_each_operation_exactly_once() {
    let srv = start_server();
    let (c, m) = logged_in(&srv.ws, USER1);
    let name = cs("user2@app.acc");
    let client_addr = c as usize;
    // SAFETY: valid handles.
    unsafe {
        let mut ops = Vec::new();
        let (tx, rx) = channel::<u64>();
        // Another thread cancels every operation as soon as it learns its id, racing the reply.
        let canceller = std::thread::spawn(move || {
            for op in rx {
                let c = client_addr as *const vox_client;
                assert_eq!(vox_cancel(c, op), VOX_OK);
                assert_eq!(vox_cancel(c, op), VOX_OK, "idempotent");
            }
        });
        for _ in 0..60 {
            let (cm, op) = completion();
            let mut id = 0;
            assert_eq!(
                vox_messenger_get_user_by_name(m, name.as_ptr(), cm, &mut id, null_mut()),
                VOX_OK
            );
            tx.send(id).unwrap();
            ops.push(op);
        }
        drop(tx);
        canceller.join().unwrap();
        let (mut ok, mut cancelled) = (0, 0);
        for op in &ops {
            let d = op.wait();
            match d.status {
                VOX_OK => {
                    ok += 1;
                    vox_event_free(d.result as *mut _);
                }
                VOX_ERR_CANCELLED => {
                    cancelled += 1;
                    assert_eq!(d.code, 20005);
                    assert_eq!(d.result, 0);
                }
                s => panic!("unexpected status {s}: {}", d.message),
            }
        }
        assert_eq!(ok + cancelled, 60);
        assert!(cancelled > 0, "no cancel won a race");
        // Nothing more arrives for any of them.
        for op in &ops {
            assert!(op.rx.try_recv().is_err());
            assert_eq!(op.calls.load(Ordering::SeqCst), 1);
        }
        // Cancelling completed or unknown operations is harmless.
        assert_eq!(vox_cancel(c, 1), VOX_OK);
        assert_eq!(vox_cancel(c, u64::MAX), VOX_OK);
        // The client still works.
        let d = call(|cm, op, e| vox_messenger_get_user_by_name(m, name.as_ptr(), cm, op, e));
        vox_event_free(d.ok());
        vox_messenger_free(m);
        vox_client_free(c);
    }
}

/// State for callbacks that call back into the library.
struct Nest {
    conv_tx: Sender<(i32, u64)>,
    client: usize,
    /// B's own id: B answers only messages from others (its own echo comes back too).
    me: u64,
    frees: Sender<i32>,
}

#[test]
fn callbacks_call_back_into_the_library_and_free_handles() {
    let srv = start_server();
    let (a, ma) = logged_in(&srv.ws, USER1);
    let (b, mb) = logged_in(&srv.ws, USER2);
    let idb = user_id(ma, "user2@app.acc");
    let (conv_tx, conv_rx) = channel();
    let (free_tx, free_rx) = channel();
    let nest = Box::into_raw(Box::new(Nest {
        conv_tx,
        client: b as usize,
        me: idb,
        frees: free_tx,
    }));

    // B's listener answers every message from inside the callback (a nested send on a
    // conversation handle it creates and frees inside the callback), and the reply's completion
    // frees B's client from inside the callback.
    unsafe extern "C" fn reply_done(
        ud: *mut c_void,
        status: i32,
        _: *const vox_error,
        res: *const vox_event,
    ) {
        // SAFETY: the Nest outlives the test's waits.
        let nest = unsafe { &*(ud as *const Nest) };
        let mut seq = 0;
        if !res.is_null() {
            // SAFETY: a borrowed result.
            unsafe { vox_event_sequence(res, &mut seq) };
            // Freeing the borrowed result inside the callback is allowed.
            // SAFETY: as above.
            assert_eq!(unsafe { vox_event_free(res as *mut _) }, VOX_OK);
        }
        nest.conv_tx.send((status, seq)).unwrap();
        // Free the client from inside its own completion.
        // SAFETY: the handle may be stale; the library checks.
        let st = unsafe { vox_client_free(nest.client as *mut vox_client) };
        nest.frees.send(st).unwrap();
    }
    unsafe extern "C" fn on_message(ud: *mut c_void, ev: *const vox_event) {
        let mut conv = null_mut();
        // SAFETY: a borrowed event; the conversation handle is ours.
        unsafe {
            let nest = &*(ud as *const Nest);
            let mut msg = null_mut();
            assert_eq!(vox_event_message(ev, &mut msg), VOX_OK);
            let mut sender = 0;
            assert_eq!(vox_message_sender(msg, &mut sender), VOX_OK);
            if sender == nest.me {
                vox_message_free(msg);
                return;
            }
            let mut cuuid = null_mut();
            assert_eq!(vox_message_conversation(msg, &mut cuuid), VOX_OK);
            vox_message_free(msg);
            let mut m = null_mut();
            // A messenger from the client handle, inside the callback.
            assert_eq!(
                vox_client_messenger(nest.client as *const _, &mut m),
                VOX_OK
            );
            let cfg = vox_conversation_config {
                participants: null(),
                participant_count: 0,
                title: null(),
                direct: false,
                public_join: false,
                uber: false,
                custom_data_json: null(),
            };
            assert_eq!(
                vox_messenger_recreate_conversation(m, &cfg, cuuid, 0, 0, 0, &mut conv, null_mut()),
                VOX_OK
            );
            vox_string_free(cuuid);
            let text = c"nested reply";
            let st = vox_conversation_send_message(
                conv,
                text.as_ptr(),
                null(),
                vox_completion {
                    callback: Some(reply_done),
                    user_data: ud,
                    release: None,
                },
                null_mut(),
                null_mut(),
            );
            assert_eq!(st, VOX_OK);
            // Free the handles used to start the call, right away, inside the callback.
            assert_eq!(vox_conversation_free(conv), VOX_OK);
            assert_eq!(vox_messenger_free(m), VOX_OK);
        }
    }
    // SAFETY: valid handles.
    unsafe {
        let mut lid = 0;
        let l = vox_listener {
            callback: Some(on_message),
            user_data: nest.cast(),
            release: None,
        };
        assert_eq!(
            vox_messenger_on(mb, 1 << VOX_EVENT_SEND_MESSAGE, l, &mut lid),
            VOX_OK
        );
        let (la, a_events) = listener();
        assert_eq!(
            vox_messenger_on(ma, 1 << VOX_EVENT_SEND_MESSAGE, la, null_mut()),
            VOX_OK
        );
        let conv = create(ma, "nested", &[idb], false);
        let d = call(|c, op, e| {
            vox_conversation_send_message(conv, cs("ping").as_ptr(), null(), c, op, e)
        });
        vox_event_free(d.ok());
        // The nested reply completed and A received it.
        let (st, seq) = conv_rx.recv_timeout(WAIT).unwrap();
        assert_eq!(st, VOX_OK);
        assert!(seq >= 2);
        let ev = a_events.next(|e| {
            let m = message_of(e);
            let t = text_of(m);
            vox_message_free(m);
            t == "nested reply"
        });
        vox_event_free(ev);
        // B's client was freed inside the completion: the handle is now stale.
        assert_eq!(free_rx.recv_timeout(WAIT).unwrap(), VOX_OK);
        assert_eq!(vox_client_free(b), VOX_ERR_INVALID_HANDLE);
        assert_eq!(vox_client_state(b, &mut 0), VOX_ERR_INVALID_HANDLE);
        // B's messenger handle is still valid to free; its listener is gone with the client.
        assert_eq!(vox_messenger_free(mb), VOX_OK);
        vox_conversation_free(conv);
        vox_messenger_free(ma);
        vox_client_free(a);
        drop(Box::from_raw(nest));
    }
}

#[test]
fn freeing_a_client_completes_every_request_in_flight() {
    let srv = start_server();
    // Requests leave one per 50 ms, so most are still queued or unanswered at the free.
    let (c, m) = logged_in_spaced(&srv.ws, USER1, 50);
    let name = cs("user2@app.acc");
    static DONE: AtomicUsize = AtomicUsize::new(0);
    // SAFETY: valid handles until the free; then the library must complete everything.
    unsafe {
        let mut ops = Vec::new();
        for _ in 0..40 {
            let (cm, op) = completion();
            assert_eq!(
                vox_messenger_get_user_by_name(m, name.as_ptr(), cm, null_mut(), null_mut()),
                VOX_OK
            );
            ops.push(op);
        }
        assert_eq!(vox_client_free(c), VOX_OK);
        let mut closed = 0;
        for op in &ops {
            let d = op.wait();
            DONE.fetch_add(1, Ordering::SeqCst);
            match d.status {
                VOX_OK => vox_event_free(d.result as *mut _),
                VOX_ERR_CONNECTION_CLOSED => {
                    closed += 1;
                    VOX_OK
                }
                s => panic!("unexpected {s}: {}", d.message),
            };
        }
        assert_eq!(DONE.load(Ordering::SeqCst), 40);
        assert!(closed > 0, "the free raced no request");
        // The messenger outlives the client handle; its calls now fail cleanly.
        let d = call(|cm, op, e| vox_messenger_get_user_by_name(m, name.as_ptr(), cm, op, e));
        assert_ne!(d.status, VOX_OK);
        assert_eq!(vox_messenger_free(m), VOX_OK);
    }
}

#[test]
fn frees_from_other_threads_race_safely() {
    let srv = start_server();
    let (c, m) = logged_in(&srv.ws, USER1);
    // SAFETY: valid handles; the races are the point.
    unsafe {
        let conv = {
            let idb = user_id(m, "user2@app.acc");
            create(m, "race", &[idb], false)
        };
        // Many clones freed from several threads at once, twice each: exactly one free of each
        // handle succeeds.
        let mut clones = Vec::new();
        for _ in 0..200 {
            let mut h = null_mut();
            assert_eq!(vox_conversation_clone(conv, &mut h), VOX_OK);
            clones.push(h as usize);
        }
        let ok = std::sync::Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let clones = clones.clone();
                let ok = ok.clone();
                std::thread::spawn(move || {
                    for h in clones {
                        let h = h as *mut vox_conversation;
                        let mut t = null_mut();
                        let r = vox_conversation_title(h, &mut t);
                        if r == VOX_OK {
                            vox_string_free(t);
                        } else {
                            assert_eq!(r, VOX_ERR_INVALID_HANDLE);
                        }
                        if vox_conversation_free(h) == VOX_OK {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(ok.load(Ordering::SeqCst), 200);
        vox_conversation_free(conv);
        vox_messenger_free(m);
        vox_client_free(c);
    }
}

#[test]
fn wss_with_a_custom_ca_or_a_pinned_certificate() {
    let srv = start_server();
    let pem = cs(&srv.cert_pem);
    // SAFETY: valid arguments throughout.
    unsafe {
        for pinned in [false, true] {
            let cfg = config(&srv.wss);
            if pinned {
                assert_eq!(
                    vox_client_config_set_pinned_certificate(
                        cfg,
                        srv.cert_pem.as_ptr(),
                        srv.cert_pem.len()
                    ),
                    VOX_OK
                );
            } else {
                assert_eq!(vox_client_config_set_custom_ca(cfg, pem.as_ptr()), VOX_OK);
            }
            let mut c = null_mut();
            assert_eq!(vox_client_new(cfg, &mut c, null_mut()), VOX_OK);
            vox_client_config_free(cfg);
            let d = call(|cm, op, e| vox_client_connect(c, cm, op, e));
            assert_eq!(d.status, VOX_OK, "pinned={pinned}: {}", d.message);
            let d = call(|cm, op, e| {
                vox_client_login(
                    c,
                    cs(USER1).as_ptr(),
                    cs("secret").as_ptr(),
                    0,
                    null(),
                    cm,
                    op,
                    e,
                )
            });
            vox_event_free(d.ok());
            vox_client_free(c);
        }
        // The default (OS) store and the bundled roots refuse the self-signed certificate; a
        // custom CA set before the bundled roots is replaced by them.
        let c = new_client(&srv.wss);
        let d = call(|cm, op, e| vox_client_connect(c, cm, op, e));
        assert_eq!(d.status, VOX_ERR_CONNECTION_FAILED, "{}", d.message);
        vox_client_free(c);
        let cfg = config(&srv.wss);
        assert_eq!(vox_client_config_set_custom_ca(cfg, pem.as_ptr()), VOX_OK);
        assert_eq!(vox_client_config_use_bundled_roots(cfg), VOX_OK);
        let mut c = null_mut();
        assert_eq!(vox_client_new(cfg, &mut c, null_mut()), VOX_OK);
        vox_client_config_free(cfg);
        let d = call(|cm, op, e| vox_client_connect(c, cm, op, e));
        assert_eq!(d.status, VOX_ERR_CONNECTION_FAILED, "{}", d.message);
        vox_client_free(c);
    }
}
