//! The committed header is the generated one: a change to `src/ffi` that changes the C ABI must
//! come with the regenerated `include/vox_messenger.h`
//! (`VOX_UPDATE_HEADER=1 cargo build -p vox-messenger`).

#[test]
fn committed_header_matches_the_generated_one() {
    let generated =
        std::fs::read_to_string(env!("VOX_GENERATED_HEADER")).expect("generated header");
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/include/vox_messenger.h"
    ))
    .expect("include/vox_messenger.h");
    assert!(
        generated == committed,
        "include/vox_messenger.h is out of date: run `VOX_UPDATE_HEADER=1 cargo build -p vox-messenger` and commit it"
    );
}

#[test]
fn header_declares_every_exported_function() {
    let header = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/include/vox_messenger.h"
    ))
    .unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ffi");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let src = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in src.lines() {
            if let Some(rest) = line.split("extern \"C\" fn ").nth(1) {
                let name = rest.split('(').next().unwrap();
                if name.starts_with("vox_") {
                    n += 1;
                    assert!(
                        header.contains(&format!("{name}(")),
                        "{name} missing from the header"
                    );
                }
            }
        }
    }
    assert!(n > 100, "found {n} exported functions");
}
