//! Create/destroy loops leave nothing behind: the number of live handles returns to where it
//! started, and every completion's and listener's user_data is released. (Its own test binary,
//! so no other test's handles are counted.)

mod ffi_util;

use ::vox_messenger::ffi::all::*;
use ffi_util::*;
use std::ptr::{null, null_mut};
use std::sync::atomic::Ordering;

#[test]
fn create_destroy_loop_leaks_no_handle() {
    let srv = start_server();
    let base = vox_debug_live_handles();
    let name = cs("user2@app.acc");
    // SAFETY: valid handles throughout.
    unsafe {
        for round in 0..20 {
            let (c, m) = logged_in(&srv.ws, USER1);
            let (l, ev) = listener();
            assert_eq!(
                vox_messenger_on(m, 1 << VOX_EVENT_SEND_MESSAGE, l, null_mut()),
                VOX_OK
            );
            // A result kept, a result dropped, an error, a request in flight at the free.
            let d = call(|cm, op, e| vox_messenger_get_user_by_name(m, name.as_ptr(), cm, op, e));
            let mut u = null_mut();
            assert_eq!(vox_event_user(d.ok(), &mut u), VOX_OK);
            vox_event_free(d.result as *mut _);
            vox_user_free(u);
            let d =
                call(|cm, op, e| vox_messenger_get_conversation(m, cs("bad").as_ptr(), cm, op, e));
            assert_eq!(d.status, VOX_ERR_INVALID_ARGUMENT);
            let (cm, op) = completion();
            assert_eq!(
                vox_messenger_get_user_by_name(m, name.as_ptr(), cm, null_mut(), null_mut()),
                VOX_OK
            );
            let mut err = null_mut();
            assert_eq!(
                vox_conversation_send_message(
                    null(),
                    null(),
                    null(),
                    completion_none(),
                    null_mut(),
                    &mut err
                ),
                VOX_ERR_NULL_ARGUMENT
            );
            vox_error_free(err);
            assert_eq!(vox_client_free(c), VOX_OK);
            let d = op.wait();
            if d.result != 0 {
                vox_event_free(d.result as *mut _);
            }
            assert_eq!(vox_messenger_free(m), VOX_OK);
            // The listener's release runs on the callback thread after the free: a completion
            // queued after it proves it ran.
            let c2 = new_client("ws://127.0.0.1:9");
            let d = call(|cm, op, e| {
                vox_client_login(c2, name.as_ptr(), name.as_ptr(), 0, null(), cm, op, e)
            });
            assert_eq!(d.status, VOX_ERR_INVALID_STATE);
            vox_client_free(c2);
            assert_eq!(ev.released.load(Ordering::SeqCst), 1, "round {round}");
            while let Ok(e) = ev.rx.try_recv() {
                vox_event_free(e as *mut _);
            }
        }
    }
    assert_eq!(vox_debug_live_handles(), base);
}

fn completion_none() -> vox_completion {
    vox_completion {
        callback: None,
        user_data: null_mut(),
        release: None,
    }
}
