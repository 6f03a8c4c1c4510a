//! Generates the C header from `src/ffi` with cbindgen.
//!
//! The header is always written to `$OUT_DIR/vox_messenger.h` (the test `ffi_header` compares it
//! with the committed `include/vox_messenger.h`). With `VOX_UPDATE_HEADER=1` in the environment
//! it is also written to `include/vox_messenger.h`:
//!
//! ```sh
//! VOX_UPDATE_HEADER=1 cargo build -p vox-messenger
//! ```

use std::path::PathBuf;

/// The major number of the shared library's SONAME: `VOX_ABI_VERSION` of `src/ffi/mod.rs`
/// (the test `ffi_soname` checks that they agree and that the library carries it).
const ABI_MAJOR: u32 = 2;

fn main() {
    // On Linux the cdylib carries `SONAME libvox_messenger.so.<ABI>`: programs linked against it
    // record that name, so a library of another ABI is never loaded in its place. (Install or
    // ship it with a `libvox_messenger.so.<ABI>` name or link; `scripts/so-link.sh DIR` makes
    // the link next to a build.)
    if std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libvox_messenger.so.{ABI_MAJOR}");
    }
    println!("cargo:rustc-env=VOX_SONAME_MAJOR={ABI_MAJOR}");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=VOX_UPDATE_HEADER");

    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("vox_messenger.h");
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        // The module root: cbindgen follows its `mod` items.
        .with_src(dir.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header");
    bindings.write_to_file(&out);
    println!("cargo:rustc-env=VOX_GENERATED_HEADER={}", out.display());
    if std::env::var("VOX_UPDATE_HEADER").is_ok_and(|v| v == "1") {
        bindings.write_to_file(dir.join("include/vox_messenger.h"));
    }
}
