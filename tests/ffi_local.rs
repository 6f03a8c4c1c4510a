//! The C ABI without a server: NULL for every pointer argument, invalid UTF-8, invalid JSON,
//! stale handles, double free, wrong handle types, and local completions (exactly once, on the
//! callback thread, never inside the starting call).

mod ffi_util;

use ::vox_messenger::ffi::all::*;
use ffi_util::*;
use std::ffi::{CStr, c_char};
use std::ptr::{null, null_mut};

const UUID: &str = "8f3c3b5e-6a9b-4c1e-9d7a-2b1f0e4c5a6d";
const BAD: &[u8] = b"bad\xff\xfeutf8\0";

fn bad() -> *const c_char {
    BAD.as_ptr().cast()
}

fn none() -> vox_completion {
    vox_completion {
        callback: None,
        user_data: null_mut(),
        release: None,
    }
}

struct Fixture {
    client: *mut vox_client,
    messenger: *mut vox_messenger,
    conv: *mut vox_conversation,
    msg: *mut vox_message,
}

fn fixture() -> Fixture {
    let client = new_client("ws://127.0.0.1:9");
    let mut messenger = null_mut();
    let mut conv = null_mut();
    let mut msg = null_mut();
    let uuid = cs(UUID);
    let title = cs("title");
    let cfg = vox_conversation_config {
        participants: null(),
        participant_count: 0,
        title: title.as_ptr(),
        direct: false,
        public_join: true,
        uber: false,
        custom_data_json: null(),
    };
    // SAFETY: valid arguments.
    unsafe {
        assert_eq!(vox_client_messenger(client, &mut messenger), VOX_OK);
        assert_eq!(
            vox_messenger_recreate_conversation(
                messenger,
                &cfg,
                uuid.as_ptr(),
                5,
                100,
                50,
                &mut conv,
                null_mut()
            ),
            VOX_OK
        );
        assert_eq!(
            vox_messenger_recreate_message(
                messenger,
                uuid.as_ptr(),
                uuid.as_ptr(),
                cs("hi").as_ptr(),
                cs(r#"[{"a":1}]"#).as_ptr(),
                3,
                &mut msg,
                null_mut()
            ),
            VOX_OK
        );
    }
    Fixture {
        client,
        messenger,
        conv,
        msg,
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: handles of this fixture.
        unsafe {
            assert_eq!(vox_message_free(self.msg), VOX_OK);
            assert_eq!(vox_conversation_free(self.conv), VOX_OK);
            assert_eq!(vox_messenger_free(self.messenger), VOX_OK);
            assert_eq!(vox_client_free(self.client), VOX_OK);
        }
    }
}

#[test]
fn version() {
    // SAFETY: a static string.
    let v = unsafe { CStr::from_ptr(vox_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    assert_eq!(vox_abi_version(), VOX_ABI_VERSION);
}

#[test]
fn null_for_every_pointer_argument() {
    let f = fixture();
    let (c, m, cv, ms) = (f.client, f.messenger, f.conv, f.msg);
    let s = cs("x");
    let x = s.as_ptr();
    let mut out_s: *mut c_char = null_mut();
    let mut out_u64 = 0u64;
    let mut out_i64 = 0i64;
    let mut out_i32 = 0i32;
    let mut out_bool = false;
    let mut out_usize = 0usize;
    let mut p = vox_participant::default();
    let ids = [1u64];
    let cfg = vox_conversation_config {
        participants: null(),
        participant_count: 1, // NULL with a count: rejected
        title: null(),
        direct: false,
        public_join: false,
        uber: false,
        custom_data_json: null(),
    };
    let n: *mut u64 = null_mut();
    // SAFETY: each call passes one NULL pointer where a pointer is required; the library must
    // reject it without touching memory.
    let cases: Vec<(&str, i32)> = unsafe {
        vec![
            ("error_clone out", vox_error_clone(null(), null_mut())),
            (
                "config_new server",
                vox_client_config_new(null(), &mut null_mut()),
            ),
            ("config_new out", vox_client_config_new(x, null_mut())),
            (
                "config_add_server cfg",
                vox_client_config_add_server(null_mut(), x),
            ),
            (
                "config_set_custom_ca cfg",
                vox_client_config_set_custom_ca(null_mut(), x),
            ),
            (
                "config_use_bundled_roots cfg",
                vox_client_config_use_bundled_roots(null_mut()),
            ),
            (
                "config_set_pinned cfg",
                vox_client_config_set_pinned_certificate(null_mut(), x.cast(), 1),
            ),
            (
                "config_set_pinned cert",
                vox_client_config_set_pinned_certificate(null_mut(), null(), 1),
            ),
            (
                "config_set_timeouts cfg",
                vox_client_config_set_timeouts(null_mut(), 1, 1),
            ),
            (
                "config_set_spacing cfg",
                vox_client_config_set_request_spacing(null_mut(), 1),
            ),
            (
                "config_set_reconnect cfg",
                vox_client_config_set_reconnect(null_mut(), ids.as_ptr(), 1, 0),
            ),
            (
                "client_new cfg",
                vox_client_new(null(), &mut null_mut(), null_mut()),
            ),
            ("client_new out", {
                let cfg = config("ws://127.0.0.1:9");
                let r = vox_client_new(cfg, null_mut(), null_mut());
                vox_client_config_free(cfg);
                r
            }),
            (
                "connect client",
                vox_client_connect(null(), none(), n.cast(), null_mut()),
            ),
            (
                "disconnect client",
                vox_client_disconnect(null(), none(), n.cast(), null_mut()),
            ),
            ("state client", vox_client_state(null(), &mut out_i32)),
            ("state out", vox_client_state(c, null_mut())),
            (
                "network_changed client",
                vox_client_notify_network_changed(null()),
            ),
            ("cancel client", vox_cancel(null(), 1)),
            (
                "login client",
                vox_client_login(null(), x, x, 0, null(), none(), null_mut(), null_mut()),
            ),
            (
                "login user",
                vox_client_login(c, null(), x, 0, null(), none(), null_mut(), null_mut()),
            ),
            (
                "login password",
                vox_client_login(c, x, null(), 0, null(), none(), null_mut(), null_mut()),
            ),
            (
                "login_with_token client",
                vox_client_login_with_token(null(), x, x, null(), none(), null_mut(), null_mut()),
            ),
            (
                "login_with_token user",
                vox_client_login_with_token(c, null(), x, null(), none(), null_mut(), null_mut()),
            ),
            (
                "login_with_token token",
                vox_client_login_with_token(c, x, null(), null(), none(), null_mut(), null_mut()),
            ),
            (
                "otk client",
                vox_client_request_one_time_login_key(null(), x, none(), null_mut(), null_mut()),
            ),
            (
                "otk user",
                vox_client_request_one_time_login_key(c, null(), none(), null_mut(), null_mut()),
            ),
            (
                "otk_hash key",
                vox_one_time_key_hash(null(), x, x, &mut out_s),
            ),
            (
                "otk_hash login",
                vox_one_time_key_hash(x, null(), x, &mut out_s),
            ),
            (
                "otk_hash password",
                vox_one_time_key_hash(x, x, null(), &mut out_s),
            ),
            ("otk_hash out", vox_one_time_key_hash(x, x, x, null_mut())),
            (
                "login_otk client",
                vox_client_login_with_one_time_key(
                    null(),
                    x,
                    x,
                    null(),
                    none(),
                    null_mut(),
                    null_mut(),
                ),
            ),
            (
                "login_otk user",
                vox_client_login_with_one_time_key(
                    c,
                    null(),
                    x,
                    null(),
                    none(),
                    null_mut(),
                    null_mut(),
                ),
            ),
            (
                "login_otk hash",
                vox_client_login_with_one_time_key(
                    c,
                    x,
                    null(),
                    null(),
                    none(),
                    null_mut(),
                    null_mut(),
                ),
            ),
            (
                "refresh client",
                vox_client_token_refresh(null(), x, x, null(), none(), null_mut(), null_mut()),
            ),
            (
                "refresh user",
                vox_client_token_refresh(c, null(), x, null(), none(), null_mut(), null_mut()),
            ),
            (
                "refresh token",
                vox_client_token_refresh(c, x, null(), null(), none(), null_mut(), null_mut()),
            ),
            (
                "on_event client",
                vox_client_on_event(
                    null(),
                    vox_client_listener {
                        callback: None,
                        user_data: null_mut(),
                        release: None,
                    },
                    null_mut(),
                ),
            ),
            ("off_event client", vox_client_off_event(null(), 0)),
            (
                "client_messenger client",
                vox_client_messenger(null(), &mut null_mut()),
            ),
            ("client_messenger out", vox_client_messenger(c, null_mut())),
            ("get_me m", vox_messenger_get_me(null(), &mut null_mut())),
            ("get_me out", vox_messenger_get_me(m, null_mut())),
            (
                "get_user_by_name m",
                vox_messenger_get_user_by_name(null(), x, none(), null_mut(), null_mut()),
            ),
            (
                "get_user_by_name name",
                vox_messenger_get_user_by_name(m, null(), none(), null_mut(), null_mut()),
            ),
            (
                "get_user_by_im_id m",
                vox_messenger_get_user_by_im_id(null(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "get_users_by_name m",
                vox_messenger_get_users_by_name(null(), &x, 1, none(), null_mut(), null_mut()),
            ),
            (
                "get_users_by_name names",
                vox_messenger_get_users_by_name(m, null(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "get_users_by_name names[0]",
                vox_messenger_get_users_by_name(
                    m,
                    [null()].as_ptr(),
                    1,
                    none(),
                    null_mut(),
                    null_mut(),
                ),
            ),
            (
                "get_users_by_im_id m",
                vox_messenger_get_users_by_im_id(
                    null(),
                    ids.as_ptr(),
                    1,
                    none(),
                    null_mut(),
                    null_mut(),
                ),
            ),
            (
                "get_users_by_im_id ids",
                vox_messenger_get_users_by_im_id(m, null(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "edit_user m",
                vox_messenger_edit_user(null(), null(), null(), none(), null_mut(), null_mut()),
            ),
            (
                "set_status m",
                vox_messenger_set_status(null(), true, none(), null_mut(), null_mut()),
            ),
            (
                "subscribe m",
                vox_messenger_subscribe(null(), ids.as_ptr(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "subscribe ids",
                vox_messenger_subscribe(m, null(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "unsubscribe m",
                vox_messenger_unsubscribe(null(), ids.as_ptr(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "unsubscribe ids",
                vox_messenger_unsubscribe(m, null(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "unsubscribe_all m",
                vox_messenger_unsubscribe_from_all(null(), none(), null_mut(), null_mut()),
            ),
            (
                "get_subscriptions m",
                vox_messenger_get_subscriptions(null(), none(), null_mut(), null_mut()),
            ),
            (
                "push m",
                vox_messenger_manage_push_notifications(
                    null(),
                    null(),
                    0,
                    none(),
                    null_mut(),
                    null_mut(),
                ),
            ),
            (
                "push kinds",
                vox_messenger_manage_push_notifications(
                    m,
                    null(),
                    1,
                    none(),
                    null_mut(),
                    null_mut(),
                ),
            ),
            (
                "create m",
                vox_messenger_create_conversation(null(), &cfg, none(), null_mut(), null_mut()),
            ),
            (
                "create config",
                vox_messenger_create_conversation(m, null(), none(), null_mut(), null_mut()),
            ),
            (
                "create config.participants",
                vox_messenger_create_conversation(m, &cfg, none(), null_mut(), null_mut()),
            ),
            (
                "get_conversation m",
                vox_messenger_get_conversation(null(), x, none(), null_mut(), null_mut()),
            ),
            (
                "get_conversation uuid",
                vox_messenger_get_conversation(m, null(), none(), null_mut(), null_mut()),
            ),
            (
                "get_conversations m",
                vox_messenger_get_conversations(null(), &x, 1, none(), null_mut(), null_mut()),
            ),
            (
                "get_conversations uuids",
                vox_messenger_get_conversations(m, null(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "get_public m",
                vox_messenger_get_public_conversations(null(), none(), null_mut(), null_mut()),
            ),
            (
                "join m",
                vox_messenger_join_conversation(null(), x, none(), null_mut(), null_mut()),
            ),
            (
                "join uuid",
                vox_messenger_join_conversation(m, null(), none(), null_mut(), null_mut()),
            ),
            (
                "leave m",
                vox_messenger_leave_conversation(null(), x, none(), null_mut(), null_mut()),
            ),
            (
                "leave uuid",
                vox_messenger_leave_conversation(m, null(), none(), null_mut(), null_mut()),
            ),
            (
                "recreate_conv m",
                vox_messenger_recreate_conversation(
                    null(),
                    &cfg,
                    x,
                    0,
                    0,
                    0,
                    &mut null_mut(),
                    null_mut(),
                ),
            ),
            (
                "recreate_conv config",
                vox_messenger_recreate_conversation(
                    m,
                    null(),
                    x,
                    0,
                    0,
                    0,
                    &mut null_mut(),
                    null_mut(),
                ),
            ),
            (
                "recreate_conv uuid",
                vox_messenger_recreate_conversation(
                    m,
                    &vox_conversation_config {
                        participant_count: 0,
                        ..cfg
                    },
                    null(),
                    0,
                    0,
                    0,
                    &mut null_mut(),
                    null_mut(),
                ),
            ),
            (
                "recreate_conv out",
                vox_messenger_recreate_conversation(m, &cfg, x, 0, 0, 0, null_mut(), null_mut()),
            ),
            (
                "recreate_msg m",
                vox_messenger_recreate_message(
                    null(),
                    x,
                    x,
                    x,
                    null(),
                    0,
                    &mut null_mut(),
                    null_mut(),
                ),
            ),
            (
                "recreate_msg uuid",
                vox_messenger_recreate_message(
                    m,
                    null(),
                    x,
                    x,
                    null(),
                    0,
                    &mut null_mut(),
                    null_mut(),
                ),
            ),
            (
                "recreate_msg conv",
                vox_messenger_recreate_message(
                    m,
                    x,
                    null(),
                    x,
                    null(),
                    0,
                    &mut null_mut(),
                    null_mut(),
                ),
            ),
            (
                "recreate_msg text",
                vox_messenger_recreate_message(
                    m,
                    x,
                    x,
                    null(),
                    null(),
                    0,
                    &mut null_mut(),
                    null_mut(),
                ),
            ),
            (
                "recreate_msg out",
                vox_messenger_recreate_message(m, x, x, x, null(), 0, null_mut(), null_mut()),
            ),
            (
                "on m",
                vox_messenger_on(
                    null(),
                    0,
                    vox_listener {
                        callback: None,
                        user_data: null_mut(),
                        release: None,
                    },
                    null_mut(),
                ),
            ),
            ("off m", vox_messenger_off(null(), 0)),
            ("conv uuid out", vox_conversation_uuid(cv, null_mut())),
            ("conv uuid c", vox_conversation_uuid(null(), &mut out_s)),
            ("conv title out", vox_conversation_title(cv, null_mut())),
            ("conv title c", vox_conversation_title(null(), &mut out_s)),
            (
                "conv custom_data out",
                vox_conversation_custom_data(cv, null_mut()),
            ),
            (
                "conv custom_data c",
                vox_conversation_custom_data(null(), &mut out_s),
            ),
            (
                "conv direct out",
                vox_conversation_is_direct(cv, null_mut()),
            ),
            (
                "conv direct c",
                vox_conversation_is_direct(null(), &mut out_bool),
            ),
            (
                "conv public out",
                vox_conversation_is_public_join(cv, null_mut()),
            ),
            (
                "conv public c",
                vox_conversation_is_public_join(null(), &mut out_bool),
            ),
            ("conv uber out", vox_conversation_is_uber(cv, null_mut())),
            (
                "conv uber c",
                vox_conversation_is_uber(null(), &mut out_bool),
            ),
            (
                "conv created out",
                vox_conversation_created_time(cv, null_mut()),
            ),
            (
                "conv created c",
                vox_conversation_created_time(null(), &mut out_i64),
            ),
            (
                "conv updated out",
                vox_conversation_last_update_time(cv, null_mut()),
            ),
            (
                "conv updated c",
                vox_conversation_last_update_time(null(), &mut out_i64),
            ),
            (
                "conv last_seq out",
                vox_conversation_last_sequence(cv, null_mut()),
            ),
            (
                "conv last_seq c",
                vox_conversation_last_sequence(null(), &mut out_u64),
            ),
            (
                "conv part_count out",
                vox_conversation_participant_count(cv, null_mut()),
            ),
            (
                "conv part_count c",
                vox_conversation_participant_count(null(), &mut out_usize),
            ),
            (
                "conv part_at out",
                vox_conversation_participant_at(cv, 0, null_mut()),
            ),
            (
                "conv part_at c",
                vox_conversation_participant_at(null(), 0, &mut p),
            ),
            (
                "conv set_title c",
                vox_conversation_set_title(null_mut(), x),
            ),
            (
                "conv set_title title",
                vox_conversation_set_title(cv, null()),
            ),
            (
                "conv set_public c",
                vox_conversation_set_public_join(null_mut(), true),
            ),
            (
                "conv set_custom c",
                vox_conversation_set_custom_data(null_mut(), cs("{}").as_ptr(), null_mut()),
            ),
            (
                "conv set_custom json",
                vox_conversation_set_custom_data(cv, null(), null_mut()),
            ),
            (
                "conv update c",
                vox_conversation_update(null(), none(), null_mut(), null_mut()),
            ),
            (
                "conv add c",
                vox_conversation_add_participants(null(), &p, 1, none(), null_mut(), null_mut()),
            ),
            (
                "conv add ps",
                vox_conversation_add_participants(cv, null(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "conv edit c",
                vox_conversation_edit_participants(null(), &p, 1, none(), null_mut(), null_mut()),
            ),
            (
                "conv edit ps",
                vox_conversation_edit_participants(cv, null(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "conv remove c",
                vox_conversation_remove_participants(null(), &p, 1, none(), null_mut(), null_mut()),
            ),
            (
                "conv remove ps",
                vox_conversation_remove_participants(cv, null(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "conv typing c",
                vox_conversation_typing(null(), none(), null_mut(), null_mut()),
            ),
            (
                "conv send c",
                vox_conversation_send_message(null(), x, null(), none(), null_mut(), null_mut()),
            ),
            (
                "conv send text",
                vox_conversation_send_message(cv, null(), null(), none(), null_mut(), null_mut()),
            ),
            (
                "conv read c",
                vox_conversation_mark_as_read(null(), 1, none(), null_mut(), null_mut()),
            ),
            (
                "conv retransmit c",
                vox_conversation_retransmit_events(null(), 1, 2, none(), null_mut(), null_mut()),
            ),
            (
                "conv retransmit_from c",
                vox_conversation_retransmit_events_from(
                    null(),
                    1,
                    2,
                    none(),
                    null_mut(),
                    null_mut(),
                ),
            ),
            (
                "conv retransmit_to c",
                vox_conversation_retransmit_events_to(null(), 1, 2, none(), null_mut(), null_mut()),
            ),
            (
                "conv clone c",
                vox_conversation_clone(null(), &mut null_mut()),
            ),
            ("conv clone out", vox_conversation_clone(cv, null_mut())),
            ("msg uuid m", vox_message_uuid(null(), &mut out_s)),
            ("msg uuid out", vox_message_uuid(ms, null_mut())),
            ("msg conv m", vox_message_conversation(null(), &mut out_s)),
            ("msg conv out", vox_message_conversation(ms, null_mut())),
            ("msg text m", vox_message_text(null(), &mut out_s)),
            ("msg text out", vox_message_text(ms, null_mut())),
            ("msg payload m", vox_message_payload(null(), &mut out_s)),
            ("msg payload out", vox_message_payload(ms, null_mut())),
            ("msg sender m", vox_message_sender(null(), &mut out_u64)),
            ("msg sender out", vox_message_sender(ms, null_mut())),
            ("msg seq m", vox_message_sequence(null(), &mut out_u64)),
            ("msg seq out", vox_message_sequence(ms, null_mut())),
            (
                "msg update m",
                vox_message_update(null(), x, null(), none(), null_mut(), null_mut()),
            ),
            (
                "msg update text",
                vox_message_update(ms, null(), null(), none(), null_mut(), null_mut()),
            ),
            (
                "msg remove m",
                vox_message_remove(null(), none(), null_mut(), null_mut()),
            ),
            ("msg clone m", vox_message_clone(null(), &mut null_mut())),
            ("msg clone out", vox_message_clone(ms, null_mut())),
            ("event type", vox_event_type(null(), &mut 0)),
            ("event action", vox_event_action(null(), &mut out_s)),
            ("event initiator", vox_event_initiator(null(), &mut out_u64)),
            ("event sequence", vox_event_sequence(null(), &mut out_u64)),
            ("event timestamp", vox_event_timestamp(null(), &mut out_i64)),
            ("event user", vox_event_user(null(), &mut null_mut())),
            (
                "event conversation",
                vox_event_conversation(null(), &mut null_mut()),
            ),
            ("event message", vox_event_message(null(), &mut null_mut())),
            (
                "event conv uuid",
                vox_event_conversation_uuid(null(), &mut out_s),
            ),
            ("event online", vox_event_is_online(null(), &mut out_bool)),
            (
                "event id count",
                vox_event_user_id_count(null(), &mut out_usize),
            ),
            ("event id at", vox_event_user_id_at(null(), 0, &mut out_u64)),
            (
                "event list count",
                vox_event_conversation_list_count(null(), &mut out_usize),
            ),
            (
                "event list at",
                vox_event_conversation_list_at(null(), 0, &mut out_s),
            ),
            (
                "event item count",
                vox_event_item_count(null(), &mut out_usize),
            ),
            (
                "event item at",
                vox_event_item_at(null(), 0, &mut null_mut()),
            ),
            (
                "event range",
                vox_event_retransmit_range(null(), &mut out_u64, &mut 0),
            ),
            ("event error code", vox_event_error_code(null(), &mut 0)),
            (
                "event error desc",
                vox_event_error_description(null(), &mut out_s),
            ),
            (
                "event display name",
                vox_event_display_name(null(), &mut out_s),
            ),
            ("event otk", vox_event_one_time_key(null(), &mut out_s)),
            ("event access", vox_event_access_token(null(), &mut out_s)),
            ("event refresh", vox_event_refresh_token(null(), &mut out_s)),
            (
                "event expiry",
                vox_event_token_expiry(null(), &mut out_u64, &mut 0),
            ),
            ("event clone", vox_event_clone(null(), &mut null_mut())),
            ("user name", vox_user_name(null(), &mut out_s)),
            ("user im_id", vox_user_im_id(null(), &mut out_u64)),
            ("user display", vox_user_display_name(null(), &mut out_s)),
            ("user custom", vox_user_custom_data(null(), &mut out_s)),
            (
                "user private",
                vox_user_private_custom_data(null(), &mut out_s),
            ),
            ("user deleted", vox_user_is_deleted(null(), &mut out_bool)),
            (
                "user list count",
                vox_user_list_count(null(), 0, &mut out_usize),
            ),
            ("user list at", vox_user_list_at(null(), 0, 0, &mut out_s)),
            ("json validate", vox_json_validate(null(), 0, null_mut())),
        ]
    };
    for (name, st) in &cases {
        assert_eq!(*st, VOX_ERR_NULL_ARGUMENT, "{name}");
    }
    assert!(out_s.is_null(), "nothing was written");
    // The frees accept NULL (no-op).
    // SAFETY: NULL is allowed.
    unsafe {
        assert_eq!(vox_client_free(null_mut()), VOX_OK);
        assert_eq!(vox_client_config_free(null_mut()), VOX_OK);
        assert_eq!(vox_messenger_free(null_mut()), VOX_OK);
        assert_eq!(vox_conversation_free(null_mut()), VOX_OK);
        assert_eq!(vox_message_free(null_mut()), VOX_OK);
        assert_eq!(vox_event_free(null_mut()), VOX_OK);
        assert_eq!(vox_user_free(null_mut()), VOX_OK);
        assert_eq!(vox_error_free(null_mut()), VOX_OK);
        vox_string_free(null_mut());
        assert_eq!(vox_string_len(null()), 0);
        assert_eq!(vox_error_status(null()), 0);
        assert_eq!(vox_error_code(null()), 0);
        assert!(vox_error_message(null()).is_null());
    }
}

#[test]
fn invalid_utf8_is_an_argument_error() {
    let f = fixture();
    let (c, m, cv, ms) = (f.client, f.messenger, f.conv, f.msg);
    let x = cs("x");
    let x = x.as_ptr();
    // SAFETY: valid handles, one string argument with invalid UTF-8.
    unsafe {
        assert_eq!(
            vox_client_config_new(bad(), &mut null_mut()),
            VOX_ERR_INVALID_UTF8
        );
        assert_eq!(
            rejected(|cm, op, e| vox_client_login(c, bad(), x, 0, null(), cm, op, e)),
            VOX_ERR_INVALID_UTF8
        );
        assert_eq!(
            rejected(|cm, op, e| vox_client_login(c, x, bad(), 0, null(), cm, op, e)),
            VOX_ERR_INVALID_UTF8
        );
        let opts = vox_login_options {
            receive_calls: -1,
            device_token: bad(),
        };
        assert_eq!(
            rejected(|cm, op, e| vox_client_login(c, x, x, 0, &opts, cm, op, e)),
            VOX_ERR_INVALID_UTF8
        );
        assert_eq!(
            rejected(|cm, op, e| vox_client_login_with_token(c, x, bad(), null(), cm, op, e)),
            VOX_ERR_INVALID_UTF8
        );
        assert_eq!(
            rejected(|cm, op, e| vox_client_token_refresh(c, x, x, bad(), cm, op, e)),
            VOX_ERR_INVALID_UTF8
        );
        assert_eq!(
            rejected(|cm, op, e| vox_messenger_get_user_by_name(m, bad(), cm, op, e)),
            VOX_ERR_INVALID_UTF8
        );
        let names = [x, bad()];
        assert_eq!(
            rejected(|cm, op, e| vox_messenger_get_users_by_name(m, names.as_ptr(), 2, cm, op, e)),
            VOX_ERR_INVALID_UTF8
        );
        assert_eq!(
            rejected(|cm, op, e| vox_messenger_get_conversation(m, bad(), cm, op, e)),
            VOX_ERR_INVALID_UTF8
        );
        assert_eq!(
            rejected(|cm, op, e| vox_conversation_send_message(cv, bad(), null(), cm, op, e)),
            VOX_ERR_INVALID_UTF8
        );
        assert_eq!(
            rejected(|cm, op, e| vox_message_update(ms, bad(), null(), cm, op, e)),
            VOX_ERR_INVALID_UTF8
        );
        assert_eq!(vox_conversation_set_title(cv, bad()), VOX_ERR_INVALID_UTF8);
        assert_eq!(
            vox_one_time_key_hash(bad(), x, x, &mut null_mut()),
            VOX_ERR_INVALID_UTF8
        );
        let mut err = null_mut();
        assert_eq!(
            vox_messenger_recreate_message(
                m,
                cs(UUID).as_ptr(),
                cs(UUID).as_ptr(),
                bad(),
                null(),
                0,
                &mut null_mut(),
                &mut err
            ),
            VOX_ERR_INVALID_UTF8
        );
        let (_, _, msg) = error_of(err);
        assert!(msg.contains("`text`"), "{msg}");
    }
}

#[test]
fn json_is_validated_on_the_way_in() {
    let f = fixture();
    let (m, cv, ms) = (f.messenger, f.conv, f.msg);
    let x = cs("x");
    // SAFETY: valid handles and strings.
    unsafe {
        for bad_obj in ["", "[1]", "{", "{\"a\":}", "3", "null", "[{}]"] {
            let j = cs(bad_obj);
            assert_eq!(
                rejected(|cm, op, e| vox_messenger_edit_user(m, j.as_ptr(), null(), cm, op, e)),
                VOX_ERR_INVALID_JSON,
                "{bad_obj}"
            );
            let mut err = null_mut();
            assert_eq!(
                vox_conversation_set_custom_data(cv, j.as_ptr(), &mut err),
                VOX_ERR_INVALID_JSON
            );
            let (s, code, msg) = error_of(err);
            assert_eq!((s, code), (VOX_ERR_INVALID_JSON, 0));
            assert!(msg.contains("custom_data_json"), "{msg}");
            assert_eq!(
                vox_json_validate(j.as_ptr(), 0, null_mut()),
                VOX_ERR_INVALID_JSON
            );
        }
        for bad_payload in ["{}", "[1]", "[{}, 2]", "[", "\"s\""] {
            let j = cs(bad_payload);
            assert_eq!(
                rejected(|cm, op, e| vox_conversation_send_message(
                    cv,
                    x.as_ptr(),
                    j.as_ptr(),
                    cm,
                    op,
                    e
                )),
                VOX_ERR_INVALID_JSON,
                "{bad_payload}"
            );
            assert_eq!(
                rejected(|cm, op, e| vox_message_update(ms, x.as_ptr(), j.as_ptr(), cm, op, e)),
                VOX_ERR_INVALID_JSON
            );
            assert_eq!(
                vox_json_validate(j.as_ptr(), 1, null_mut()),
                VOX_ERR_INVALID_JSON
            );
        }
        assert_eq!(
            vox_json_validate(cs(r#"{"a":[1,{"b":null}]}"#).as_ptr(), 0, null_mut()),
            VOX_OK
        );
        assert_eq!(
            vox_json_validate(cs(r#"[{"a":1},{}]"#).as_ptr(), 1, null_mut()),
            VOX_OK
        );
        // A valid custom data round-trips.
        assert_eq!(
            vox_conversation_set_custom_data(cv, cs(r#"{"k":"v","n":2}"#).as_ptr(), null_mut()),
            VOX_OK
        );
        assert_eq!(
            get_str(|o| vox_conversation_custom_data(cv, o)),
            r#"{"k":"v","n":2}"#
        );
        assert_eq!(get_str(|o| vox_message_payload(ms, o)), r#"[{"a":1}]"#);
    }
}

#[test]
fn stale_handles_double_free_and_wrong_types_are_errors() {
    let f = fixture();
    // SAFETY: handles are checked by the library; the point is passing stale ones.
    unsafe {
        let mut copy = null_mut();
        assert_eq!(vox_message_clone(f.msg, &mut copy), VOX_OK);
        assert_eq!(vox_message_free(copy), VOX_OK);
        assert_eq!(vox_message_free(copy), VOX_ERR_INVALID_HANDLE);
        assert_eq!(
            vox_message_text(copy, &mut null_mut()),
            VOX_ERR_INVALID_HANDLE
        );
        assert_eq!(
            rejected(|cm, op, e| vox_message_remove(copy, cm, op, e)),
            VOX_ERR_INVALID_HANDLE
        );
        // A new handle reusing the slot does not revive the old one.
        let mut again = null_mut();
        assert_eq!(vox_message_clone(f.msg, &mut again), VOX_OK);
        assert_ne!(again, copy);
        assert_eq!(vox_message_free(copy), VOX_ERR_INVALID_HANDLE);
        assert_eq!(vox_message_free(again), VOX_OK);

        // Wrong types: a message handle given as every other type.
        let as_any = f.msg as usize;
        assert_eq!(
            vox_client_free(as_any as *mut vox_client),
            VOX_ERR_WRONG_HANDLE_TYPE
        );
        assert_eq!(
            vox_conversation_free(as_any as *mut vox_conversation),
            VOX_ERR_WRONG_HANDLE_TYPE
        );
        assert_eq!(
            vox_event_free(as_any as *mut vox_event),
            VOX_ERR_WRONG_HANDLE_TYPE
        );
        assert_eq!(vox_user_free(as_any as *mut _), VOX_ERR_WRONG_HANDLE_TYPE);
        assert_eq!(vox_error_free(as_any as *mut _), VOX_ERR_WRONG_HANDLE_TYPE);
        assert_eq!(
            vox_messenger_free(as_any as *mut _),
            VOX_ERR_WRONG_HANDLE_TYPE
        );
        assert_eq!(
            vox_client_config_free(as_any as *mut _),
            VOX_ERR_WRONG_HANDLE_TYPE
        );
        assert_eq!(
            vox_client_state(as_any as *const _, &mut 0),
            VOX_ERR_WRONG_HANDLE_TYPE
        );
        assert_eq!(
            vox_conversation_title(as_any as *const _, &mut null_mut()),
            VOX_ERR_WRONG_HANDLE_TYPE
        );
        assert_eq!(
            vox_event_type(as_any as *const _, &mut 0),
            VOX_ERR_WRONG_HANDLE_TYPE
        );
        // The message survived all that.
        assert_eq!(get_str(|o| vox_message_text(f.msg, o)), "hi");

        // Garbage values.
        for g in [
            1usize,
            0x10,
            0xdead_beef,
            usize::MAX,
            0x0000_0001_0000_0000 | 0xffff_fff0,
        ] {
            assert_eq!(
                vox_client_state(g as *const _, &mut 0),
                VOX_ERR_INVALID_HANDLE,
                "{g:#x}"
            );
            assert_eq!(vox_client_free(g as *mut _), VOX_ERR_INVALID_HANDLE);
        }

        // A freed client: every call reports the stale handle.
        let c = new_client("ws://127.0.0.1:9");
        assert_eq!(vox_client_free(c), VOX_OK);
        assert_eq!(vox_client_free(c), VOX_ERR_INVALID_HANDLE);
        assert_eq!(vox_cancel(c, 1), VOX_ERR_INVALID_HANDLE);
        assert_eq!(
            rejected(|cm, op, e| vox_client_connect(c, cm, op, e)),
            VOX_ERR_INVALID_HANDLE
        );
        assert_eq!(
            vox_client_messenger(c, &mut null_mut()),
            VOX_ERR_INVALID_HANDLE
        );
    }
}

#[test]
fn accessors_read_typed_fields() {
    let f = fixture();
    // SAFETY: valid handles.
    unsafe {
        assert_eq!(get_str(|o| vox_conversation_uuid(f.conv, o)), UUID);
        assert_eq!(get_str(|o| vox_conversation_title(f.conv, o)), "title");
        let (mut b, mut s, mut t) = (false, 0u64, 0i64);
        assert_eq!(vox_conversation_is_public_join(f.conv, &mut b), VOX_OK);
        assert!(b);
        assert_eq!(vox_conversation_last_sequence(f.conv, &mut s), VOX_OK);
        assert_eq!(s, 5);
        assert_eq!(vox_conversation_last_update_time(f.conv, &mut t), VOX_OK);
        assert_eq!(t, 100);
        assert_eq!(vox_conversation_created_time(f.conv, &mut t), VOX_OK);
        assert_eq!(t, 50);
        let mut n = 9usize;
        assert_eq!(vox_conversation_participant_count(f.conv, &mut n), VOX_OK);
        assert_eq!(n, 0);
        let mut p = vox_participant::default();
        assert_eq!(
            vox_conversation_participant_at(f.conv, 0, &mut p),
            VOX_ERR_OUT_OF_RANGE
        );
        assert_eq!(
            vox_conversation_set_title(f.conv, cs("new").as_ptr()),
            VOX_OK
        );
        assert_eq!(get_str(|o| vox_conversation_title(f.conv, o)), "new");
        assert_eq!(get_str(|o| vox_message_uuid(f.msg, o)), UUID);
        assert_eq!(get_str(|o| vox_message_conversation(f.msg, o)), UUID);
        assert_eq!(vox_message_sequence(f.msg, &mut s), VOX_OK);
        assert_eq!(s, 3);
        // get_me before login has no value.
        assert_eq!(
            vox_messenger_get_me(f.messenger, &mut null_mut()),
            VOX_ERR_NO_VALUE
        );
        let mut st = -1;
        assert_eq!(vox_client_state(f.client, &mut st), VOX_OK);
        assert_eq!(st, VOX_STATE_DISCONNECTED);
        // Out-of-range enums.
        assert_eq!(
            vox_messenger_on(
                f.messenger,
                1 << 18,
                vox_listener {
                    callback: None,
                    user_data: null_mut(),
                    release: None
                },
                null_mut()
            ),
            VOX_ERR_OUT_OF_RANGE
        );
        let x = cs("x");
        assert_eq!(
            rejected(|cm, op, e| vox_client_login(
                f.client,
                x.as_ptr(),
                x.as_ptr(),
                7,
                null(),
                cm,
                op,
                e
            )),
            VOX_ERR_OUT_OF_RANGE
        );
        let kinds = [0i32, 9];
        assert_eq!(
            rejected(|cm, op, e| vox_messenger_manage_push_notifications(
                f.messenger,
                kinds.as_ptr(),
                2,
                cm,
                op,
                e
            )),
            VOX_ERR_OUT_OF_RANGE
        );
        // A string with a NUL inside comes back whole.
        let mut m2 = null_mut();
        assert_eq!(
            vox_messenger_recreate_message(
                f.messenger,
                cs(UUID).as_ptr(),
                cs(UUID).as_ptr(),
                cs("é").as_ptr(),
                null(),
                0,
                &mut m2,
                null_mut()
            ),
            VOX_OK
        );
        assert_eq!(get_str(|o| vox_message_text(m2, o)), "é");
        assert_eq!(get_str(|o| vox_message_payload(m2, o)), "[]");
        assert_eq!(vox_message_free(m2), VOX_OK);
        let h = get_str(|o| {
            vox_one_time_key_hash(
                cs("k").as_ptr(),
                cs("user1@app.acc").as_ptr(),
                cs("p").as_ptr(),
                o,
            )
        });
        assert_eq!(
            h,
            ::vox_messenger::Client::one_time_key_hash("k", "user1@app.acc", "p")
        );
    }
}

#[test]
fn local_failures_complete_once_on_the_callback_thread_never_inside_the_call() {
    let f = fixture();
    // SAFETY: valid handles.
    unsafe {
        // Not logged in: the SDK completes with NOT_LOGGED_IN, later, on the callback thread.
        let d = call(|cm, op, e| vox_messenger_get_user_by_im_id(f.messenger, 1, cm, op, e));
        assert_eq!((d.status, d.code), (VOX_ERR_NOT_LOGGED_IN, 10003));
        assert!(d.result == 0);
        // Local validation of the SDK: a bad uuid.
        let d = call(|cm, op, e| {
            vox_messenger_get_conversation(f.messenger, cs("nope").as_ptr(), cm, op, e)
        });
        assert_eq!((d.status, d.code), (VOX_ERR_INVALID_ARGUMENT, 10001));
        let d = call(|cm, op, e| vox_conversation_retransmit_events(f.conv, 9, 2, cm, op, e));
        assert_eq!((d.status, d.code), (VOX_ERR_INVALID_ARGUMENT, 28));
        // Login before connect.
        let x = cs("user1@app.acc.voximplant.com");
        let d = call(|cm, op, e| {
            vox_client_login(f.client, x.as_ptr(), x.as_ptr(), 0, null(), cm, op, e)
        });
        assert_eq!(d.status, VOX_ERR_INVALID_STATE, "{}", d.message);
        // Connect to a closed port.
        let d = call(|cm, op, e| vox_client_connect(f.client, cm, op, e));
        assert_eq!(d.status, VOX_ERR_CONNECTION_FAILED, "{}", d.message);
        assert_eq!(d.code, 20002);

        // Never inside the starting call: a callback that records whether the starter returned.
        use std::sync::atomic::{AtomicBool, Ordering};
        static RETURNED: AtomicBool = AtomicBool::new(false);
        static INSIDE: AtomicBool = AtomicBool::new(false);
        unsafe extern "C" fn cb(
            ud: *mut std::ffi::c_void,
            _: i32,
            _: *const vox_error,
            _: *const vox_event,
        ) {
            if !RETURNED.load(Ordering::SeqCst) {
                INSIDE.store(true, Ordering::SeqCst);
            }
            // SAFETY: the sender boxed below.
            let tx = unsafe { Box::from_raw(ud as *mut std::sync::mpsc::Sender<()>) };
            tx.send(()).unwrap();
        }
        unsafe extern "C" fn gate(
            ud: *mut std::ffi::c_void,
            _: i32,
            _: *const vox_error,
            _: *const vox_event,
        ) {
            // SAFETY: the receiver boxed below: the callback thread waits here.
            let rx = unsafe { Box::from_raw(ud as *mut std::sync::mpsc::Receiver<()>) };
            let _ = rx.recv_timeout(WAIT);
        }
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // Hold the callback thread until the starter has returned and said so: a completion
        // run synchronously inside the starting call would see RETURNED false.
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let st = vox_messenger_get_user_by_im_id(
            f.messenger,
            1,
            vox_completion {
                callback: Some(gate),
                user_data: Box::into_raw(Box::new(gate_rx)).cast(),
                release: None,
            },
            null_mut(),
            null_mut(),
        );
        assert_eq!(st, VOX_OK);
        let st = vox_messenger_get_user_by_im_id(
            f.messenger,
            1,
            vox_completion {
                callback: Some(cb),
                user_data: Box::into_raw(Box::new(tx)).cast(),
                release: None,
            },
            null_mut(),
            null_mut(),
        );
        RETURNED.store(true, Ordering::SeqCst);
        gate_tx.send(()).unwrap();
        assert_eq!(st, VOX_OK);
        rx.recv_timeout(WAIT).unwrap();
        assert!(!INSIDE.load(Ordering::SeqCst));
    }
}

#[test]
fn listeners_are_released_after_off_and_on_client_free() {
    let f = fixture();
    // SAFETY: valid handles.
    unsafe {
        let (l1, e1) = listener();
        let (l2, e2) = listener();
        let (mut id1, mut id2) = (0, 0);
        assert_eq!(
            vox_messenger_on(f.messenger, 1 << VOX_EVENT_SEND_MESSAGE, l1, &mut id1),
            VOX_OK
        );
        assert_eq!(
            vox_messenger_on(f.messenger, 1 << VOX_EVENT_TYPING, l2, &mut id2),
            VOX_OK
        );
        assert_ne!(id1, id2);
        assert_eq!(vox_messenger_off(f.messenger, id1), VOX_OK);
        // The release is queued to the callback thread: a completion queued after it proves it ran.
        let d = call(|cm, op, e| vox_messenger_get_user_by_im_id(f.messenger, 1, cm, op, e));
        assert_eq!(d.status, VOX_ERR_NOT_LOGGED_IN);
        assert_eq!(e1.released.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(e2.released.load(std::sync::atomic::Ordering::SeqCst), 0);
        // Off twice is harmless.
        assert_eq!(vox_messenger_off(f.messenger, id1), VOX_OK);
        // Freeing a client releases its listeners.
        let c2 = new_client("ws://127.0.0.1:9");
        let mut m2 = null_mut();
        assert_eq!(vox_client_messenger(c2, &mut m2), VOX_OK);
        let (l3, e3) = listener();
        assert_eq!(
            vox_messenger_on(m2, 1 << VOX_EVENT_READ, l3, null_mut()),
            VOX_OK
        );
        assert_eq!(vox_client_free(c2), VOX_OK);
        let d = call(|cm, op, e| vox_messenger_get_user_by_im_id(m2, 1, cm, op, e));
        assert_ne!(d.status, VOX_OK);
        assert_eq!(e3.released.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(vox_messenger_free(m2), VOX_OK);
    }
}

#[test]
fn config_setters() {
    // SAFETY: valid arguments.
    unsafe {
        let cfg = config("ws://127.0.0.1:9");
        assert_eq!(
            vox_client_config_add_server(cfg, cs("ws://127.0.0.1:10").as_ptr()),
            VOX_OK
        );
        assert_eq!(vox_client_config_set_timeouts(cfg, 500, 300), VOX_OK);
        let d = [0u64, 10];
        assert_eq!(
            vox_client_config_set_reconnect(cfg, d.as_ptr(), 2, 20),
            VOX_OK
        );
        assert_eq!(
            vox_client_config_set_reconnect(cfg, d.as_ptr(), 2, 101),
            VOX_ERR_OUT_OF_RANGE
        );
        let mut c = null_mut();
        assert_eq!(vox_client_new(cfg, &mut c, null_mut()), VOX_OK);
        assert_eq!(vox_client_free(c), VOX_OK);
        // A bad scheme is refused with details.
        assert_eq!(
            vox_client_config_add_server(cfg, cs("http://x").as_ptr()),
            VOX_OK
        );
        let mut err = null_mut();
        assert_eq!(
            vox_client_new(cfg, &mut c, &mut err),
            VOX_ERR_INVALID_ARGUMENT
        );
        let (s, code, _) = error_of(err);
        assert_eq!((s, code), (VOX_ERR_INVALID_ARGUMENT, 10001));
        // Unreadable CA → TLS error.
        let cfg2 = config("wss://127.0.0.1:9");
        assert_eq!(
            vox_client_config_set_custom_ca(cfg2, cs("not a pem").as_ptr()),
            VOX_OK
        );
        assert_eq!(vox_client_new(cfg2, &mut c, null_mut()), VOX_ERR_TLS);
        assert_eq!(vox_client_config_free(cfg2), VOX_OK);
        assert_eq!(vox_client_config_free(cfg), VOX_OK);
        assert_eq!(vox_client_config_free(cfg), VOX_ERR_INVALID_HANDLE);
    }
}

#[test]
fn freeing_a_client_during_connect_completes_the_connect() {
    // A server that accepts TCP but never answers the WebSocket handshake.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", silent.local_addr().unwrap());
    // SAFETY: valid handles.
    unsafe {
        let cfg = config(&url);
        assert_eq!(vox_client_config_set_timeouts(cfg, 0, 8000), VOX_OK);
        let mut c = null_mut();
        assert_eq!(vox_client_new(cfg, &mut c, null_mut()), VOX_OK);
        vox_client_config_free(cfg);
        let (cm, op) = completion();
        assert_eq!(vox_client_connect(c, cm, null_mut(), null_mut()), VOX_OK);
        let t = std::time::Instant::now();
        assert_eq!(vox_client_free(c), VOX_OK);
        let d = op.wait();
        assert_ne!(d.status, VOX_OK);
        println!(
            "connect completed with {} after {:?}: {}",
            d.status,
            t.elapsed(),
            d.message
        );
        assert!(
            t.elapsed() < std::time::Duration::from_secs(7),
            "the free did not end the connect"
        );
    }
    drop(silent);
}
