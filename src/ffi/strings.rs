//! Strings and JSON across the boundary.
//!
//! In: NUL-terminated UTF-8 (`const char*`), checked; invalid UTF-8 is `VOX_ERR_INVALID_UTF8`.
//! Out: a new NUL-terminated UTF-8 buffer allocated by the library, freed with
//! `vox_string_free` (never with `free()`). The buffer records its length, so text containing
//! NUL characters is still complete: `vox_string_len` gives the exact byte length.

use super::status::{Fail, VOX_ERR_INVALID_JSON, VOX_ERR_INVALID_UTF8, need, write};
use crate::JsonObject;
use std::alloc::{Layout, alloc, dealloc};
use std::ffi::{CStr, c_char};

const HEADER: usize = std::mem::size_of::<usize>();

/// A borrowed input string: NULL → `VOX_ERR_NULL_ARGUMENT`, bad UTF-8 → `VOX_ERR_INVALID_UTF8`.
pub(crate) fn in_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, Fail> {
    if p.is_null() {
        return Err(Fail::null(name));
    }
    // SAFETY: the caller promises a NUL-terminated string that lives for the call.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|e| Fail::new(VOX_ERR_INVALID_UTF8, format!("`{name}` is not UTF-8: {e}")))
}

/// An optional input string (NULL → `None`).
pub(crate) fn in_opt_str<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Fail> {
    if p.is_null() {
        Ok(None)
    } else {
        in_str(p, name).map(Some)
    }
}

/// An array of `count` input strings (`p` may be NULL only when `count` is 0).
pub(crate) fn in_str_array<'a>(
    p: *const *const c_char,
    count: usize,
    name: &str,
) -> Result<Vec<&'a str>, Fail> {
    if count == 0 {
        return Ok(Vec::new());
    }
    need(p, name)?;
    // SAFETY: non-NULL; the caller promises `count` readable pointers.
    let ptrs = unsafe { std::slice::from_raw_parts(p, count) };
    ptrs.iter()
        .enumerate()
        .map(|(i, &s)| in_str(s, &format!("{name}[{i}]")))
        .collect()
}

/// An array of `count` plain values (`p` may be NULL only when `count` is 0).
pub(crate) fn in_array<'a, T>(p: *const T, count: usize, name: &str) -> Result<&'a [T], Fail> {
    if count == 0 {
        return Ok(&[]);
    }
    need(p, name)?;
    // SAFETY: non-NULL; the caller promises `count` readable values.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// A JSON object given as text.
pub(crate) fn in_json_object(p: *const c_char, name: &str) -> Result<JsonObject, Fail> {
    let s = in_str(p, name)?;
    serde_json::from_str::<JsonObject>(s).map_err(|e| {
        Fail::new(
            VOX_ERR_INVALID_JSON,
            format!("`{name}` is not a JSON object: {e}"),
        )
    })
}

/// An optional JSON object (NULL → `None`).
pub(crate) fn in_opt_json_object(p: *const c_char, name: &str) -> Result<Option<JsonObject>, Fail> {
    if p.is_null() {
        Ok(None)
    } else {
        in_json_object(p, name).map(Some)
    }
}

/// A message payload: a JSON array of objects as text; NULL means no payload.
pub(crate) fn in_payload(p: *const c_char, name: &str) -> Result<Vec<JsonObject>, Fail> {
    if p.is_null() {
        return Ok(Vec::new());
    }
    let s = in_str(p, name)?;
    serde_json::from_str::<Vec<JsonObject>>(s).map_err(|e| {
        Fail::new(
            VOX_ERR_INVALID_JSON,
            format!("`{name}` is not a JSON array of objects: {e}"),
        )
    })
}

/// JSON text of an object.
pub(crate) fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A new library-owned C string with the bytes of `s`.
pub(crate) fn new_string(s: &str) -> *mut c_char {
    let len = s.len();
    let layout = Layout::from_size_align(HEADER + len + 1, HEADER).expect("string layout");
    // SAFETY: the layout has a non-zero size; the writes stay inside it.
    unsafe {
        let base = alloc(layout);
        if base.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        base.cast::<usize>().write(len);
        let data = base.add(HEADER);
        std::ptr::copy_nonoverlapping(s.as_ptr(), data, len);
        data.add(len).write(0);
        data.cast()
    }
}

/// Write a new string through `out` (checked for NULL).
pub(crate) fn out_string(s: &str, out: *mut *mut c_char) -> Result<(), Fail> {
    need(out, "out")?;
    write(out, "out", new_string(s))
}

/// Free a string returned by this library. NULL is a no-op. Must be called exactly once per
/// string, and only for strings this library returned (never for your own strings, never
/// `free()` a library string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    // SAFETY: `s` was returned by `new_string`, so its header sits right before it.
    unsafe {
        let base = s.cast::<u8>().sub(HEADER);
        let len = base.cast::<usize>().read();
        let layout = Layout::from_size_align(HEADER + len + 1, HEADER).expect("string layout");
        dealloc(base, layout);
    }
}

/// The length in bytes (without the final NUL) of a string returned by this library; exact even
/// if the text contains NUL characters. 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_string_len(s: *const c_char) -> usize {
    if s.is_null() {
        return 0;
    }
    // SAFETY: as in `vox_string_free`.
    unsafe { s.cast::<u8>().sub(HEADER).cast::<usize>().read() }
}

/// Whether `json` is valid JSON text of an object (`kind` 0) or of an array of objects (`kind`
/// 1, a message payload): VOX_OK, VOX_ERR_NULL_ARGUMENT, VOX_ERR_INVALID_UTF8, or
/// VOX_ERR_INVALID_JSON (details in `*out_error` when `out_error` is not NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_json_validate(
    json: *const c_char,
    kind: i32,
    out_error: *mut *mut super::status::vox_error,
) -> i32 {
    super::status::guard(out_error, || {
        if kind == 0 {
            in_json_object(json, "json").map(drop)
        } else {
            in_str(json, "json")?;
            in_payload(json, "json").map(drop)
        }
    })
}
