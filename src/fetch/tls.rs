//! The TLS set-up of every client `fetch` builds: reqwest's own (rustls,
//! the platform's root certificates through rustls-platform-verifier,
//! HTTP/1.1 by ALPN), except that the root certificates are read once per
//! process, at the first certificate to verify, instead of once per client
//! and at start.
//!
//! Why: reqwest builds a `rustls_platform_verifier::Verifier` for each
//! client, and on Linux that parses the system's whole CA bundle (~150
//! certificates of PEM) there and then. `Fetcher::new` builds two clients
//! (the public-only and the any-address one), so every process start paid
//! for the bundle twice: 37 M instructions, 13 % of a warm `poll-once` of
//! 1,000 feeds whose requests cost 67 M (BENCHMARKS.md, Run 14 "warm
//! poll"), and a feed list on plain `http` never needs it at all. The
//! verification itself is the platform verifier's, unchanged.
//!
//! The verifier also completes chains that servers send without their
//! intermediate ([`chain`]): only after the platform verifier has refused a
//! chain as "unknown issuer", so a complete chain costs nothing more. It
//! cannot fetch (verification is synchronous, inside the handshake, and
//! only `fetch` talks to the network): it names what is missing in its
//! error, and `fetch` gets it and retries.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use super::chain::{self, Intermediates, MissingIntermediate};

/// The [`MissingIntermediate`] a handshake failed with, found in a fetch
/// error's causes. (rustls' error travels inside an `io::Error`, whose
/// `source` skips it: its inner error is looked at too.)
pub(super) fn missing_intermediate(e: &(dyn std::error::Error + 'static)) -> Option<MissingIntermediate> {
    match rustls_error(e)? {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(other))) => {
            other.downcast_ref::<MissingIntermediate>().cloned()
        }
        _ => None,
    }
}

/// The rustls error a failed request carries, if its handshake failed.
pub(super) fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    // Bounded: error chains are a few links long.
    fn find<'a>(err: &'a (dyn std::error::Error + 'static), depth: usize) -> Option<&'a rustls::Error> {
        if depth == 0 {
            return None;
        }
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // hyper-rustls wraps tokio-rustls' `io::Error` in another.
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| find(inner, depth - 1));
        inner.or_else(|| err.source().and_then(|source| find(source, depth - 1)))
    }
    find(e, 16)
}

/// The rustls client configuration for a reqwest client
/// (`ClientBuilder::tls_backend_preconfigured`): what reqwest builds for
/// our feature set (every TLS version the provider has, SNI, ALPN
/// `http/1.1`: reqwest is built without HTTP/2), with the process's one
/// [`LazyPlatformVerifier`].
pub(super) fn client_config() -> rustls::ClientConfig {
    config_with(verifier())
}

/// The process's one [`LazyPlatformVerifier`], with its intermediates
/// learned through AIA.
pub(super) fn verifier() -> Arc<LazyPlatformVerifier> {
    static VERIFIER: OnceLock<Arc<LazyPlatformVerifier>> = OnceLock::new();
    VERIFIER
        .get_or_init(|| Arc::new(LazyPlatformVerifier::new(provider(), Vec::new())))
        .clone()
}

fn provider() -> Arc<CryptoProvider> {
    // reqwest is built without a default crypto provider (ring builds a
    // minute faster than aws-lc); installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

pub(super) fn config_with(verifier: Arc<LazyPlatformVerifier>) -> rustls::ClientConfig {
    let mut config = rustls::ClientConfig::builder_with_provider(verifier.provider.clone())
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("the ring provider supports every rustls protocol version")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// `rustls_platform_verifier::Verifier`, built at the first certificate it
/// is asked to verify. A system without usable root certificates fails
/// each `https` handshake with the platform verifier's own error (before,
/// it failed every fetch client at start, `http` feeds included).
///
/// A chain that fails for want of an intermediate is verified again with
/// the intermediates learned through AIA ([`chain`]); when they do not
/// complete it either and its top certificate names its issuer's URL, the
/// error is a [`MissingIntermediate`] for `fetch` to act on.
pub(super) struct LazyPlatformVerifier {
    provider: Arc<CryptoProvider>,
    /// Extra roots trusted beside the platform's (tests: their own CA).
    extra_roots: Vec<CertificateDer<'static>>,
    inner: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
    /// Offered as intermediates only, never as roots.
    pub(super) intermediates: Intermediates,
}

impl LazyPlatformVerifier {
    pub(super) fn new(
        provider: Arc<CryptoProvider>,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> LazyPlatformVerifier {
        LazyPlatformVerifier {
            provider,
            extra_roots,
            inner: OnceLock::new(),
            intermediates: Intermediates::default(),
        }
    }

    /// The chain failed with "unknown issuer": the learned intermediates
    /// that continue it are offered, then what is still missing is named.
    fn complete(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
        unknown: rustls::Error,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(walk) = chain::walk(end_entity, intermediates, &self.intermediates) else {
            return Err(unknown);
        };
        let mut unknown = unknown;
        if !walk.extra.is_empty() {
            let mut all: Vec<CertificateDer<'_>> = intermediates.to_vec();
            all.extend(walk.extra);
            match self
                .inner()?
                .verify_server_cert(end_entity, &all, server_name, ocsp_response, now)
            {
                Err(e @ rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => unknown = e,
                done => return done,
            }
        }
        match walk.missing {
            Some(missing) => Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(missing)),
            ))),
            None => Err(unknown),
        }
    }

    /// True once the root certificates were read.
    #[cfg(test)]
    fn loaded(&self) -> bool {
        self.inner.get().is_some()
    }

    fn inner(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.inner
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    self.extra_roots.iter().cloned(),
                    self.provider.clone(),
                )
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl fmt::Debug for LazyPlatformVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyPlatformVerifier")
            .field("loaded", &self.inner.get().is_some())
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            // A complete chain costs nothing more: only a failed one is
            // read here.
            Err(e @ rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
                self.complete(end_entity, intermediates, server_name, ocsp_response, now, e)
            }
            done => done,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner()?.verify_tls13_signature(message, cert, dss)
    }

    /// Asked before any certificate arrives (the client hello): the
    /// provider's algorithms, which is what the platform verifier answers
    /// (through webpki), so the roots need not be read for it.
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::time::Duration;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::PrivateKeyDer;

    use super::*;

    // A test CA and a certificate it signed for `localhost` and 127.0.0.1
    // (P-256, valid until 2126), made with `openssl req -x509` and
    // `openssl x509 -req`; the CA's key was not kept.
    const CA: &[u8] = include_bytes!("../../tests/fixtures/tls/ca.pem");
    const LEAF: &[u8] = include_bytes!("../../tests/fixtures/tls/localhost.pem");
    const LEAF_KEY: &[u8] = include_bytes!("../../tests/fixtures/tls/localhost.key");

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn cert(pem: &[u8]) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem).expect("test certificate")
    }

    /// Serves one HTTPS request on 127.0.0.1 with the test certificate,
    /// answering `ok`; the thread ends with the connection (every read and
    /// write bounded by a timeout).
    fn serve_once() -> (SocketAddr, std::thread::JoinHandle<Result<(), String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert(LEAF)], PrivateKeyDer::from_pem_slice(LEAF_KEY).unwrap())
            .unwrap();
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            tcp.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
            let conn = rustls::ServerConnection::new(Arc::new(config)).map_err(|e| e.to_string())?;
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = tls.read(&mut buf).map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("connection closed before the request".into());
                }
                request.extend_from_slice(&buf[..n]);
            }
            tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .map_err(|e| e.to_string())?;
            tls.conn.send_close_notify();
            tls.flush().map_err(|e| e.to_string())?;
            Ok(())
        });
        (addr, server)
    }

    #[test]
    fn roots_are_read_at_the_first_certificate_and_verify_as_the_platform_verifier() {
        let verifier = LazyPlatformVerifier::new(provider(), vec![cert(CA)]);
        // The client hello's question needs no roots.
        assert!(!verifier.supported_verify_schemes().is_empty());
        assert!(!verifier.loaded());
        let name = ServerName::try_from("localhost").unwrap();
        verifier
            .verify_server_cert(&cert(LEAF), &[], &name, &[], UnixTime::now())
            .expect("a certificate the extra root signed");
        assert!(verifier.loaded());
        let other = ServerName::try_from("example.org").unwrap();
        assert!(verifier
            .verify_server_cert(&cert(LEAF), &[], &other, &[], UnixTime::now())
            .is_err());
    }

    #[test]
    fn a_certificate_no_platform_root_signed_is_refused() {
        let verifier = LazyPlatformVerifier::new(provider(), Vec::new());
        let name = ServerName::try_from("localhost").unwrap();
        let refused = verifier.verify_server_cert(&cert(LEAF), &[], &name, &[], UnixTime::now());
        assert!(refused.is_err(), "{refused:?}");
    }

    #[tokio::test]
    async fn a_client_on_this_config_completes_a_handshake_and_gets_the_page() {
        let (addr, server) = serve_once();
        let verifier = Arc::new(LazyPlatformVerifier::new(provider(), vec![cert(CA)]));
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(config_with(verifier.clone()))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let response = client
            .get(format!("https://localhost:{}/feed.xml", addr.port()))
            .send()
            .await;
        // `localhost` may resolve to ::1 first; the certificate names both.
        let response = match response {
            Ok(r) => r,
            Err(_) => client
                .get(format!("https://127.0.0.1:{}/feed.xml", addr.port()))
                .send()
                .await
                .expect("https to the test server"),
        };
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "ok");
        assert!(verifier.loaded());
        server.join().unwrap().unwrap();
    }

    #[tokio::test]
    async fn the_fetcher_refuses_a_certificate_no_platform_root_signed() {
        let (addr, server) = serve_once();
        let config = crate::config::Config::parse(
            std::path::Path::new("feeds.toml"),
            "[[output]]\nname = \"o\"\ntags = [\"t\"]\n\n[[feed]]\nurl = \"https://localhost/feed\"\ntags = [\"t\"]\n",
        )
        .unwrap();
        let fetcher = super::super::Fetcher::new(&config.poll).unwrap();
        let url = url::Url::parse(&format!("https://127.0.0.1:{}/feed.xml", addr.port())).unwrap();
        let refused = fetcher
            .fetch(&url, &super::super::Validators::default(), true)
            .await
            .expect_err("an unknown issuer");
        assert!(refused.to_string().contains("certificate"), "{refused}");
        // The server saw the handshake fail, not a request.
        assert!(server.join().unwrap().is_err());
    }
}
