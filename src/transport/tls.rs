//! TLS trust for `wss://`: the operating system's trust store by default (through
//! `rustls-platform-verifier`), the Mozilla roots bundled with the SDK, a custom CA (PEM) for a
//! self-hosted server, or a pinned server certificate.
//!
//! Where the platform store comes from:
//!
//! | OS | roots and verification |
//! |----|------------------------|
//! | Linux and other Unix | the system CA bundle found by `openssl-probe` (e.g. `/etc/ssl/certs/ca-certificates.crt`), or the PEM file named by `SSL_CERT_FILE` / the directory named by `SSL_CERT_DIR` when set; verified by webpki |
//! | macOS, iOS | Security.framework (keychains, MDM-installed roots, revocation) |
//! | Windows | the Windows certificate store and CryptoAPI |
//! | Android | the bundled Mozilla roots: the Android trust manager needs a JNI context that a JNA-loaded library never receives (see `TlsTrust::Platform`) |
//!
//! When the platform has no usable root at all (a minimal container without `ca-certificates`),
//! `Platform` falls back to the bundled roots and logs a warning rather than refusing every
//! server.

use crate::error::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

/// Which server certificates a `wss://` connection accepts.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum TlsTrust {
    /// The operating system's trust store (the default): what the device's browser trusts,
    /// including roots an administrator installed. On Android this is the same as
    /// [`TlsTrust::WebPkiRoots`].
    #[default]
    Platform,
    /// The Mozilla root store shipped with the SDK (`webpki-roots`), whatever the OS trusts.
    WebPkiRoots,
    /// Only certificates chaining to these CA certificates (PEM text, one or more).
    CustomCa(String),
    /// Exactly this server certificate (PEM text or DER bytes of the end-entity certificate);
    /// its chain and name are not checked, the handshake signature is.
    PinnedCertificate(Vec<u8>),
}

impl std::fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsTrust::Platform => f.write_str("Platform"),
            TlsTrust::WebPkiRoots => f.write_str("WebPkiRoots"),
            TlsTrust::CustomCa(_) => f.write_str("CustomCa(..)"),
            TlsTrust::PinnedCertificate(_) => f.write_str("PinnedCertificate(..)"),
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Tls(format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Tls("no certificate in the PEM text".into()));
    }
    Ok(certs)
}

fn bundled_roots() -> rustls::RootCertStore {
    rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
}

/// The OS verifier, or `None` where the OS offers nothing usable (Android without a JNI
/// context, a Linux system without any CA bundle): the caller then uses the bundled roots.
fn platform_verifier() -> Option<Arc<dyn ServerCertVerifier>> {
    #[cfg(target_os = "android")]
    {
        tracing::debug!("TLS: Android, using the bundled Mozilla roots");
        None
    }
    #[cfg(not(target_os = "android"))]
    match rustls_platform_verifier::Verifier::new(provider()) {
        Ok(v) => Some(Arc::new(v)),
        Err(e) => {
            tracing::warn!(error = %e, "TLS: no usable OS trust store; using the bundled Mozilla roots");
            None
        }
    }
}

/// Build the rustls client configuration for `trust`.
pub(crate) fn client_config(trust: &TlsTrust) -> Result<Arc<rustls::ClientConfig>, Error> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let config = match trust {
        TlsTrust::Platform => match platform_verifier() {
            Some(verifier) => builder
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth(),
            None => builder
                .with_root_certificates(bundled_roots())
                .with_no_client_auth(),
        },
        TlsTrust::WebPkiRoots => builder
            .with_root_certificates(bundled_roots())
            .with_no_client_auth(),
        TlsTrust::CustomCa(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in pem_certs(pem.as_bytes())? {
                roots
                    .add(cert)
                    .map_err(|e| Error::Tls(format!("bad CA certificate: {e}")))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TlsTrust::PinnedCertificate(bytes) => {
            let der = if bytes.starts_with(b"-----BEGIN") {
                pem_certs(bytes)?.remove(0).as_ref().to_vec()
            } else if bytes.is_empty() {
                return Err(Error::Tls("empty pinned certificate".into()));
            } else {
                bytes.clone()
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
                    der,
                    algorithms: provider().signature_verification_algorithms,
                }))
                .with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct PinnedVerifier {
    der: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
