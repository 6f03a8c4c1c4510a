//! The default TLS trust is the operating system's store. On Linux that store is the system CA
//! bundle, or the PEM file named by `SSL_CERT_FILE` — the standard way an administrator (or a
//! container image) adds a private CA. This test points `SSL_CERT_FILE` at the dev server's
//! self-signed certificate and checks that a client with the default configuration accepts that
//! server, refuses a server whose certificate is not in the store, and that `WebPkiRoots`
//! ignores the OS store.
//!
//! One test in its own binary: it changes the process environment, which must happen before any
//! other thread exists.

mod common;

use common::{PASSWORD, USER1, start_server, within};
use vox_messenger::{Client, ClientConfig, Error, TlsTrust};

#[test]
fn default_trust_is_the_operating_system_store() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("os-bundle.pem");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The servers start on the runtime, but the environment is set before any client reads it
    // and while no code that reads the environment runs concurrently (the servers are idle).
    let (trusted, other) = rt.block_on(async { (start_server().await, start_server().await) });
    std::fs::write(&bundle, trusted.cert_pem()).unwrap();
    assert_ne!(
        trusted.cert_pem(),
        other.cert_pem(),
        "two servers, two certificates"
    );
    // SAFETY: the only other threads are the runtime's, which are idle (no task is running and
    // none reads the environment); this is the only test in this binary.
    unsafe {
        std::env::remove_var("SSL_CERT_DIR");
        std::env::set_var("SSL_CERT_FILE", &bundle);
    }

    rt.block_on(async {
        // Default configuration: the OS store, which now holds the dev server's certificate.
        let cfg = ClientConfig::new(trusted.wss());
        assert_eq!(cfg.tls, TlsTrust::Platform, "the default trust");
        let c = Client::new(cfg).unwrap();
        within(c.connect())
            .await
            .expect("trusted through the OS store");
        within(c.login(USER1, PASSWORD)).await.unwrap();
        within(c.disconnect()).await.unwrap();

        // A server whose certificate the OS store does not hold: refused.
        let c = Client::new(ClientConfig::new(other.wss())).unwrap();
        let e = within(c.connect()).await.unwrap_err();
        assert!(matches!(e, Error::ConnectionFailed(_)), "{e:?}");

        // The bundled Mozilla roots ignore what the OS trusts: refused.
        let mut cfg = ClientConfig::new(trusted.wss());
        cfg.tls = TlsTrust::WebPkiRoots;
        let c = Client::new(cfg).unwrap();
        let e = within(c.connect()).await.unwrap_err();
        assert!(matches!(e, Error::ConnectionFailed(_)), "{e:?}");
    });
}
