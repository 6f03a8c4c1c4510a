//! `vox_set_log_callback`: the SDK's records reach the C callback at the chosen level, only the
//! SDK's targets, and nothing after logging is turned off. (Its own test binary: it installs the
//! process-wide subscriber.)

mod ffi_util;

use ::vox_messenger::ffi::all::*;
use ffi_util::*;
use std::ffi::{CStr, c_char, c_void};
use std::sync::Mutex;

static RECORDS: Mutex<Vec<(i32, String, String)>> = Mutex::new(Vec::new());
/// The user_data values released, in order.
static RELEASED: Mutex<Vec<usize>> = Mutex::new(Vec::new());

unsafe extern "C" fn release(ud: *mut c_void) {
    RELEASED.lock().unwrap().push(ud as usize);
}

fn released() -> Vec<usize> {
    RELEASED.lock().unwrap().clone()
}

unsafe extern "C" fn sink(
    ud: *mut c_void,
    level: i32,
    target: *const c_char,
    message: *const c_char,
) {
    assert!(ud as usize == 0x5eed || ud as usize == 0x5eee, "{ud:?}");
    // SAFETY: strings valid for the call.
    let (t, m) = unsafe {
        (
            CStr::from_ptr(target).to_str().unwrap().to_owned(),
            CStr::from_ptr(message).to_str().unwrap().to_owned(),
        )
    };
    RECORDS.lock().unwrap().push((level, t, m));
}

#[test]
fn records_reach_the_callback_at_the_chosen_level() {
    // SAFETY: a valid function and an opaque pointer.
    unsafe {
        assert_eq!(
            vox_set_log_callback(9, Some(sink), 0x5eed as *mut c_void, Some(release)),
            VOX_ERR_OUT_OF_RANGE
        );
        // Rejected: nothing stored, nothing released.
        assert!(released().is_empty());
        assert_eq!(
            vox_set_log_callback(
                VOX_LOG_DEBUG,
                Some(sink),
                0x5eed as *mut c_void,
                Some(release)
            ),
            VOX_OK
        );
        assert!(released().is_empty());
        // A connect that fails logs state changes and the failure.
        let c = new_client("ws://127.0.0.1:9");
        let d = call(|cm, op, e| vox_client_connect(c, cm, op, e));
        assert_eq!(d.status, VOX_ERR_CONNECTION_FAILED);
        {
            let r = RECORDS.lock().unwrap();
            assert!(!r.is_empty(), "no record reached the callback");
            assert!(
                r.iter()
                    .all(|(l, t, _)| (VOX_LOG_ERROR..=VOX_LOG_DEBUG).contains(l)
                        && (t.starts_with("vox_messenger") || t.starts_with("vox_protocol"))),
                "{r:?}"
            );
            assert!(r.iter().any(|(_, _, m)| m.contains("state")), "{r:?}");
        }
        // Off (with a new user_data): nothing more arrives; the first user_data is released,
        // exactly once.
        assert_eq!(
            vox_set_log_callback(
                VOX_LOG_OFF,
                Some(sink),
                0x5eee as *mut c_void,
                Some(release)
            ),
            VOX_OK
        );
        assert_eq!(released(), vec![0x5eed]);
        let before = RECORDS.lock().unwrap().len();
        let d = call(|cm, op, e| vox_client_connect(c, cm, op, e));
        assert_eq!(d.status, VOX_ERR_CONNECTION_FAILED);
        assert_eq!(RECORDS.lock().unwrap().len(), before);
        // NULL callback: off as well.
        assert_eq!(
            vox_set_log_callback(VOX_LOG_TRACE, None, std::ptr::null_mut(), Some(release)),
            VOX_OK
        );
        // Cleared: the second user_data is released; a NULL callback stores nothing, so its
        // release never runs.
        assert_eq!(released(), vec![0x5eed, 0x5eee]);
        let d = call(|cm, op, e| vox_client_connect(c, cm, op, e));
        assert_eq!(d.status, VOX_ERR_CONNECTION_FAILED);
        assert_eq!(RECORDS.lock().unwrap().len(), before);
        // Replacing while records flow from other threads still releases exactly once.
        for i in 0..20usize {
            assert_eq!(
                vox_set_log_callback(
                    VOX_LOG_TRACE,
                    Some(sink),
                    (0x5eed + (i % 2)) as *mut c_void,
                    Some(release)
                ),
                VOX_OK
            );
            let d = call(|cm, op, e| vox_client_connect(c, cm, op, e));
            assert_eq!(d.status, VOX_ERR_CONNECTION_FAILED);
        }
        assert_eq!(
            vox_set_log_callback(VOX_LOG_OFF, None, std::ptr::null_mut(), None),
            VOX_OK
        );
        // Calls in progress may hold the last reference for a moment.
        let deadline = std::time::Instant::now() + WAIT;
        while released().len() < 22 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            released().len(),
            22,
            "every replaced user_data released once"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(released().len(), 22, "and never twice");
        vox_client_free(c);
    }
}
