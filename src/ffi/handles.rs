//! The handle registry: every opaque pointer the C ABI hands out is an encoded (slot, generation)
//! pair, never a real address. Freeing bumps the slot's generation, so a stale or doubly-freed
//! handle is detected (`VOX_ERR_INVALID_HANDLE`) instead of being dereferenced.
//!
//! The registry lock is held only to look up, insert or take out an `Arc`; objects are dropped
//! and user code is called after it is released.

use super::status::{Fail, VOX_ERR_INVALID_HANDLE, VOX_ERR_WRONG_HANDLE_TYPE};
use crate::{ClientConfig, Conversation, Message, Messenger, User};
use std::ffi::c_void;
use std::sync::{Arc, Mutex, RwLock};

/// Everything a handle can stand for.
pub(crate) enum Obj {
    Config(Mutex<ClientConfig>),
    Client(crate::Client),
    Messenger(Messenger),
    Conversation(Mutex<Conversation>),
    Message(Message),
    User(User),
    Event(super::events::Value),
    Error(super::status::ErrorObj),
}

struct Slot {
    generation: u32,
    obj: Option<Arc<Obj>>,
}

struct Registry {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    slots: Vec::new(),
    free: Vec::new(),
});

#[cfg(target_pointer_width = "64")]
mod layout {
    pub(super) const INDEX_BITS: u32 = 32;
    pub(super) const GEN_MASK: u32 = u32::MAX;
}
#[cfg(not(target_pointer_width = "64"))]
mod layout {
    pub(super) const INDEX_BITS: u32 = 20;
    pub(super) const GEN_MASK: u32 = (1 << 12) - 1;
}
use layout::{GEN_MASK, INDEX_BITS};
const INDEX_MASK: usize = (1usize << INDEX_BITS) - 1;

fn encode(index: u32, generation: u32) -> *mut c_void {
    (((generation as usize) << INDEX_BITS) | index as usize) as *mut c_void
}

fn decode(h: *const c_void) -> (u32, u32) {
    let v = h as usize;
    ((v & INDEX_MASK) as u32, (v >> INDEX_BITS) as u32)
}

fn next_generation(g: u32) -> u32 {
    // Generation 0 is never used, so no handle is NULL.
    let n = g.wrapping_add(1) & GEN_MASK;
    if n == 0 { 1 } else { n }
}

fn lock_read() -> std::sync::RwLockReadGuard<'static, Registry> {
    REGISTRY.read().unwrap_or_else(|e| e.into_inner())
}

fn lock_write() -> std::sync::RwLockWriteGuard<'static, Registry> {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner())
}

/// Register an object; returns its handle.
pub(crate) fn insert(obj: Obj) -> *mut c_void {
    let obj = Some(Arc::new(obj));
    let mut r = lock_write();
    if let Some(i) = r.free.pop() {
        let slot = &mut r.slots[i as usize];
        slot.obj = obj;
        encode(i, slot.generation)
    } else {
        let i = r.slots.len();
        assert!(i < INDEX_MASK, "too many live handles");
        r.slots.push(Slot { generation: 1, obj });
        encode(i as u32, 1)
    }
}

pub(crate) fn invalid(what: &str) -> Fail {
    Fail::new(
        VOX_ERR_INVALID_HANDLE,
        format!("invalid {what} handle (NULL, stale, freed, or never issued)"),
    )
}

pub(crate) fn wrong_type(what: &str) -> Fail {
    Fail::new(
        VOX_ERR_WRONG_HANDLE_TYPE,
        format!("the handle is not a {what} handle"),
    )
}

/// The object behind a handle (a new reference; the registry lock is released on return).
pub(crate) fn get(h: *const c_void, what: &str) -> Result<Arc<Obj>, Fail> {
    if h.is_null() {
        return Err(Fail::null(what));
    }
    let (i, g) = decode(h);
    let r = lock_read();
    match r.slots.get(i as usize) {
        Some(Slot {
            generation,
            obj: Some(o),
        }) if *generation == g => Ok(o.clone()),
        _ => Err(invalid(what)),
    }
}

/// Invalidate a handle whose object satisfies `is_type`, and drop the registry's reference to
/// the object after releasing the lock.
pub(crate) fn free(
    h: *const c_void,
    what: &str,
    is_type: impl Fn(&Obj) -> bool,
) -> Result<(), Fail> {
    take(h, what, is_type).map(drop)
}

/// Like [`free`], but hand the object back.
pub(crate) fn take(
    h: *const c_void,
    what: &str,
    is_type: impl Fn(&Obj) -> bool,
) -> Result<Arc<Obj>, Fail> {
    if h.is_null() {
        return Err(Fail::null(what));
    }
    let (i, g) = decode(h);
    let mut r = lock_write();
    let slot = match r.slots.get_mut(i as usize) {
        Some(s) if s.generation == g && s.obj.is_some() => s,
        _ => return Err(invalid(what)),
    };
    if !is_type(slot.obj.as_ref().expect("checked")) {
        return Err(wrong_type(what));
    }
    let obj = slot.obj.take().expect("checked");
    slot.generation = next_generation(slot.generation);
    r.free.push(i);
    drop(r);
    Ok(obj)
}

/// Free a handle the library created for the duration of a callback, if the callback has not
/// freed it already.
pub(crate) fn release_temporary(h: *const c_void) {
    let _ = take(h, "temporary", |_| true);
}

/// How many handles are live (for leak tests).
pub(crate) fn live_count() -> usize {
    lock_read().slots.iter().filter(|s| s.obj.is_some()).count()
}

/// The number of live handles of the library (all types). A leak check for tests and debug
/// builds: it returns to its previous value once everything handed out has been freed.
#[unsafe(no_mangle)]
pub extern "C" fn vox_debug_live_handles() -> i64 {
    std::panic::catch_unwind(live_count).unwrap_or(0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::ErrorObj;

    fn err() -> Obj {
        Obj::Error(ErrorObj {
            status: 1,
            code: 2,
            message: "x".into(),
        })
    }

    #[test]
    fn stale_and_double_free_are_detected_and_slots_are_reused() {
        let a = insert(err());
        assert!(get(a, "e").is_ok());
        free(a, "e", |_| true).unwrap();
        assert_eq!(
            get(a, "e").err().map(|f| f.status).unwrap(),
            VOX_ERR_INVALID_HANDLE
        );
        assert_eq!(
            free(a, "e", |_| true).unwrap_err().status,
            VOX_ERR_INVALID_HANDLE
        );
        // The slot is reused with a new generation: the old handle stays invalid.
        let b = insert(err());
        assert_ne!(a, b);
        assert_eq!(
            get(a, "e").err().map(|f| f.status).unwrap(),
            VOX_ERR_INVALID_HANDLE
        );
        assert!(get(b, "e").is_ok());
        assert_eq!(
            free(b, "e", |o| matches!(o, Obj::User(_)))
                .unwrap_err()
                .status,
            VOX_ERR_WRONG_HANDLE_TYPE
        );
        free(b, "e", |_| true).unwrap();
        // Garbage values are rejected.
        assert!(get(usize::MAX as *const c_void, "e").is_err());
        assert!(get(0x1234 as *const c_void, "e").is_err());
    }
}
