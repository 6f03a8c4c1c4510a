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

fn main() {
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
