// swift-tools-version: 6.0
//
// VoxMessenger: Swift bindings over the vox-messenger C ABI (include/vox_messenger.h).
//
// NOT BUILT IN CI: no Swift toolchain runs there. `./check-symbols.sh` (which CI can run) checks
// that every `vox_` name these sources use exists in the header.
//
// Development build (macOS or Linux, from this directory), against the library cargo builds:
//
//     (cd ../.. && cargo build -p vox-messenger)          # target/debug/libvox_messenger.{dylib,so,a}
//     swift build                                          # uses ../../target/debug
//     VOX_LIB_DIR=/abs/path/to/target/release swift build  # or another directory
//
// The module map (Sources/CVoxMessenger/module.modulemap) points at ../../include/vox_messenger.h
// and asks the linker for `-lvox_messenger`; this manifest adds `-L<dir>` and an rpath for that
// directory. Releases use a binary XCFramework instead (see README.md, "Releases").
import PackageDescription

let libDir = Context.environment["VOX_LIB_DIR"] ?? "\(Context.packageDirectory)/../../target/debug"

let package = Package(
    name: "VoxMessenger",
    platforms: [.macOS(.v13), .iOS(.v16)],
    products: [
        .library(name: "VoxMessenger", targets: ["VoxMessenger"]),
    ],
    targets: [
        // The C ABI: a module map over the committed header (no sources).
        .systemLibrary(name: "CVoxMessenger", path: "Sources/CVoxMessenger"),
        .target(
            name: "VoxMessenger",
            dependencies: ["CVoxMessenger"],
            linkerSettings: [
                // Local development only: unsafeFlags are refused in packages used as a
                // dependency by URL. The binary-target manifest in README.md needs none.
                .unsafeFlags(["-L\(libDir)", "-Xlinker", "-rpath", "-Xlinker", libDir]),
            ]
        ),
        // A console chat (the counterpart of examples/c_chat.c): `swift run VoxChat …`.
        .executableTarget(name: "VoxChat", dependencies: ["VoxMessenger"], path: "Examples/VoxChat"),
        .testTarget(name: "VoxMessengerTests", dependencies: ["VoxMessenger"]),
    ],
    swiftLanguageModes: [.v6]
)
