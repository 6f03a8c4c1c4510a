//! What ABI version 2 added, against the real server: `vox_is_callback_thread`, the borrowed
//! client handle of messengers, conversations and messages (used for `vox_cancel`), listeners
//! for an event mask, `vox_messenger_get_me` with the whole user (kept up to date by
//! edit_user), signed returns, and the SONAME of the shared library.

mod ffi_util;

use ::vox_messenger::ffi::all::*;
use ffi_util::*;
use std::ffi::c_void;
use std::ptr::{null, null_mut};
use std::sync::mpsc::{Sender, channel};

unsafe extern "C" fn report_thread(
    ud: *mut c_void,
    _: i32,
    _: *const vox_error,
    _: *const vox_event,
) {
    // SAFETY: the boxed Sender of the test, alive until `release_sender`.
    let tx = unsafe { &*(ud as *const Sender<bool>) };
    tx.send(vox_is_callback_thread()).unwrap();
}

/// The completion's release: the library calls it after the callback has returned. (The test
/// must not own the Sender on its stack: the receiver may see the value while `send` is still
/// running on the callback thread.)
unsafe extern "C" fn release_sender(ud: *mut c_void) {
    // SAFETY: made by Box::into_raw in the test, released exactly once.
    drop(unsafe { Box::from_raw(ud as *mut Sender<bool>) });
}

#[test]
fn is_callback_thread_is_true_only_inside_callbacks() {
    assert!(
        !vox_is_callback_thread(),
        "false before any client (threads not started)"
    );
    let c = new_client("ws://127.0.0.1:9");
    assert!(
        !vox_is_callback_thread(),
        "false on the application's thread"
    );
    let (tx, rx) = channel::<bool>();
    let cm = vox_completion {
        callback: Some(report_thread),
        user_data: Box::into_raw(Box::new(tx)).cast(),
        release: Some(release_sender),
    };
    // SAFETY: valid handles; the completion owns the Sender and releases it.
    unsafe {
        assert_eq!(vox_client_connect(c, cm, null_mut(), null_mut()), VOX_OK);
        assert!(rx.recv_timeout(WAIT).unwrap(), "true inside a completion");
        assert_eq!(vox_client_free(c), VOX_OK);
    }
    assert_eq!(vox_abi_version(), VOX_ABI_VERSION);
    assert_eq!(VOX_ABI_VERSION, 2);
}

fn user(m: *const vox_messenger) -> (*mut vox_user, u64, String) {
    let mut u = null_mut();
    // SAFETY: valid handles.
    unsafe {
        assert_eq!(vox_messenger_get_me(m, &mut u), VOX_OK);
        let mut id = 0;
        assert_eq!(vox_user_im_id(u, &mut id), VOX_OK);
        let data = get_str(|o| vox_user_custom_data(u, o));
        (u, id, data)
    }
}

#[test]
fn get_me_mask_listeners_and_borrowed_client_handles() {
    let srv = start_server();
    let (a, ma) = logged_in(&srv.ws, USER1);
    let (b, mb) = logged_in(&srv.ws, USER2);
    // SAFETY: valid handles throughout; owned objects are freed.
    unsafe {
        // get_me: the whole user, locally.
        let (me, ida, _) = user(ma);
        assert!(ida > 0);
        assert_eq!(get_str(|o| vox_user_name(me, o)), "user1@app.acc");
        assert_eq!(get_str(|o| vox_user_display_name(me, o)), "User One");
        // The current user's private custom data is there (only the user itself has it).
        assert_eq!(get_str(|o| vox_user_private_custom_data(me, o)), "{}");
        assert_eq!(vox_user_free(me), VOX_OK);

        // Kept up to date: an edit from ANOTHER session of user1 reaches this one's get_me.
        let (a2, ma2) = logged_in(&srv.ws, USER1);
        let data = cs(r#"{"mood":"fine"}"#);
        let d = call(|c, op, e| vox_messenger_edit_user(ma2, data.as_ptr(), null(), c, op, e));
        vox_event_free(d.ok());
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let (u, _, cd) = user(ma);
            vox_user_free(u);
            if cd.contains("fine") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "get_me never saw the edit: {cd}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(vox_client_free(a2), VOX_OK);
        assert_eq!(vox_messenger_free(ma2), VOX_OK);

        // The borrowed client handle of a messenger is the handle vox_client_new gave.
        let mut bc = null_mut();
        assert_eq!(vox_messenger_client(ma, &mut bc), VOX_OK);
        assert_eq!(bc, a);
        assert_eq!(vox_messenger_client(ma, null_mut()), VOX_ERR_NULL_ARGUMENT);

        // One listener for two event types (a mask): B sees the conversation and the message.
        let idb = {
            let (u, id, _) = user(mb);
            vox_user_free(u);
            id
        };
        let (l, events) = listener();
        let mut lid = 0;
        assert_eq!(
            vox_messenger_on(
                mb,
                (1 << VOX_EVENT_CREATE_CONVERSATION) | (1 << VOX_EVENT_SEND_MESSAGE),
                l,
                &mut lid
            ),
            VOX_OK
        );
        assert_ne!(lid, 0);
        let p = vox_participant {
            im_user_id: idb,
            can_write: true,
            ..Default::default()
        };
        let title = cs("mask");
        let cfg = vox_conversation_config {
            participants: &p,
            participant_count: 1,
            title: title.as_ptr(),
            direct: false,
            public_join: false,
            uber: false,
            custom_data_json: null(),
        };
        let d = call(|c, op, e| vox_messenger_create_conversation(ma, &cfg, c, op, e));
        let mut conv = null_mut();
        assert_eq!(vox_event_conversation(d.ok(), &mut conv), VOX_OK);
        vox_event_free(d.ok());
        let text = cs("through a mask");
        let d =
            call(|c, op, e| vox_conversation_send_message(conv, text.as_ptr(), null(), c, op, e));
        let mut msg = null_mut();
        assert_eq!(vox_event_message(d.ok(), &mut msg), VOX_OK);
        vox_event_free(d.ok());
        let e1 = events.next(|_| true);
        assert_eq!(event_type(e1), VOX_EVENT_CREATE_CONVERSATION);
        let e2 = events.next(|_| true);
        assert_eq!(event_type(e2), VOX_EVENT_SEND_MESSAGE);
        vox_event_free(e1);
        vox_event_free(e2);

        // Conversations and messages know their client (borrowed): cancel through it.
        let (mut cc, mut mc) = (null_mut(), null_mut());
        assert_eq!(vox_conversation_client(conv, &mut cc), VOX_OK);
        assert_eq!(vox_message_client(msg, &mut mc), VOX_OK);
        assert_eq!(cc, a);
        assert_eq!(mc, a);
        let (cm, op) = completion();
        let mut opid = 0;
        assert_eq!(
            vox_conversation_send_message(conv, text.as_ptr(), null(), cm, &mut opid, null_mut()),
            VOX_OK
        );
        assert_eq!(vox_cancel(cc, opid), VOX_OK);
        let d = op.wait();
        assert!(d.status == VOX_ERR_CANCELLED || d.status == VOX_OK, "{d:?}");
        if d.status == VOX_OK {
            vox_event_free(d.ok());
        }

        // Off by id removes every type of the registration, releases once.
        assert_eq!(vox_messenger_off(mb, lid), VOX_OK);
        let d = call(|c, op, e| vox_messenger_get_user_by_im_id(mb, idb, c, op, e));
        vox_event_free(d.ok());
        assert_eq!(events.released.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(vox_messenger_off(mb, lid), VOX_OK, "twice is harmless");

        // Bad masks register nothing.
        let bad = vox_listener {
            callback: None,
            user_data: null_mut(),
            release: None,
        };
        assert_eq!(
            vox_messenger_on(mb, 0, bad, null_mut()),
            VOX_ERR_OUT_OF_RANGE
        );
        let bad = vox_listener {
            callback: None,
            user_data: null_mut(),
            release: None,
        };
        assert_eq!(
            vox_messenger_on(mb, -1, bad, null_mut()),
            VOX_ERR_OUT_OF_RANGE
        );

        // Once the client is freed, its objects say so instead of handing out a stale handle.
        assert_eq!(vox_client_free(a), VOX_OK);
        assert_eq!(
            vox_conversation_client(conv, &mut cc),
            VOX_ERR_INVALID_HANDLE
        );
        assert_eq!(vox_message_client(msg, &mut mc), VOX_ERR_INVALID_HANDLE);
        assert_eq!(vox_messenger_client(ma, &mut bc), VOX_ERR_INVALID_HANDLE);
        assert_eq!(vox_messenger_off(ma, 0), VOX_OK);
        vox_conversation_free(conv);
        vox_message_free(msg);
        vox_messenger_free(ma);
        vox_messenger_free(mb);
        vox_client_free(b);
    }
}

/// The SONAME of the cdylib next to this test binary (target/<profile>/libvox_messenger.so),
/// read from the ELF dynamic section.
#[cfg(target_os = "linux")]
#[test]
fn the_shared_library_has_the_abi_version_as_soname() {
    let exe = std::env::current_exe().unwrap();
    let lib = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("libvox_messenger.so");
    let Ok(bytes) = std::fs::read(&lib) else {
        panic!(
            "no {} (cargo builds the cdylib with the tests)",
            lib.display()
        );
    };
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(bytes[4], 2, "ELF64");
    assert_eq!(bytes[5], 1, "little-endian");
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()) as usize;
    // Program headers: PT_DYNAMIC (2) and PT_LOAD (1) segments to map addresses to offsets.
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    let mut dynamic = None;
    let mut loads = Vec::new();
    for i in 0..phnum {
        let p = phoff + i * phentsize;
        let kind = u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap());
        let (off, vaddr, filesz) = (u64_at(p + 8), u64_at(p + 16), u64_at(p + 32));
        match kind {
            1 => loads.push((vaddr, off, filesz)),
            2 => dynamic = Some((off, filesz)),
            _ => {}
        }
    }
    let (doff, dsize) = dynamic.expect("a dynamic section");
    let to_off = |addr: usize| {
        loads
            .iter()
            .find(|(v, _, s)| addr >= *v && addr < v + s)
            .map(|(v, o, _)| addr - v + o)
            .expect("address in a loaded segment")
    };
    let (mut strtab, mut soname) = (None, None);
    for i in 0..dsize / 16 {
        let e = doff + i * 16;
        match u64_at(e) {
            5 => strtab = Some(u64_at(e + 8)),  // DT_STRTAB
            14 => soname = Some(u64_at(e + 8)), // DT_SONAME
            0 => break,
            _ => {}
        }
    }
    let start = to_off(strtab.expect("DT_STRTAB")) + soname.expect("DT_SONAME");
    let end = start + bytes[start..].iter().position(|&b| b == 0).unwrap();
    let name = std::str::from_utf8(&bytes[start..end]).unwrap();
    assert_eq!(name, format!("libvox_messenger.so.{VOX_ABI_VERSION}"));
    assert_eq!(
        env!("VOX_SONAME_MAJOR"),
        VOX_ABI_VERSION.to_string(),
        "build.rs agrees"
    );
}
