//! Completing the certificate chains of servers that send their leaf
//! certificate without the intermediate CA certificate that signed it, as
//! browsers do (Chrome's "AIA fetching"): the intermediates learned, what a
//! certificate says about its issuer, and what an AIA URL serves.
//!
//! Why: a server with an incomplete chain opens in every browser, so its
//! operator does not notice, while rustls (like curl, Python and Go) fails
//! it with "unknown issuer", for good. The leaf's Authority Information
//! Access extension (RFC 5280 4.2.2.1, `caIssuers`) names a URL where its
//! issuer's certificate is published; `fetch` gets it, this module checks
//! that it is the issuer the chain lacks and keeps it, and the verifier
//! (`tls`) offers the kept ones to the platform verifier **as
//! intermediates** beside those the server sent. Nothing here is ever a
//! trust anchor: the chain must still end at a platform root, and every
//! signature along it is the platform verifier's to check, so a bogus
//! certificate served at an AIA URL can make nothing verify that did not.
//!
//! Only intermediates learned through AIA are kept, not those that servers
//! with complete chains send (Firefox's cache): keeping those would parse
//! certificates at every handshake, where AIA costs nothing until a chain
//! fails, and the one request it saves is made once per intermediate per
//! process.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use url::Url;
use x509_cert::certificate::{CertificateInner, Raw};
use x509_cert::der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, SubjectKeyIdentifier};

/// At most this many intermediates are kept per process; the oldest goes
/// first. Bounded because AIA servers are not ours; a process meets far
/// fewer incomplete chains than this.
const CAPACITY: usize = 256;
/// A chain is followed up at most this many certificates from the leaf
/// (real ones have one or two intermediates).
const MAX_DEPTH: usize = 6;
/// What an AIA URL may answer: one certificate is 1-2 KB, a PKCS#7 bundle
/// of a chain a few.
pub(super) const MAX_CERT_BODY: u64 = 64 * 1024;

/// An X.509 certificate as read here: the `Raw` profile accepts what real
/// CAs issue beyond RFC 5280's letter (negative or 21-byte serial numbers);
/// nothing read here is trusted for it.
type Certificate = CertificateInner<Raw>;

/// The intermediates learned through AIA, matched to a chain by subject
/// name (the issuer name a certificate carries), as the platform verifier
/// (webpki) builds its paths, and by key id where both certificates name
/// one (a CA that renewed its intermediate under the same name).
#[derive(Debug, Default)]
pub(super) struct Intermediates {
    kept: Mutex<VecDeque<Kept>>,
    /// One AIA request per URL at a time: fetches that meet the same
    /// missing intermediate together (a round's first minute after a
    /// start) wait for the first to learn it. Entries no fetch holds are
    /// dropped at the next call.
    learning: Mutex<HashMap<Url, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug)]
struct Kept {
    subject: Vec<u8>,
    der: CertificateDer<'static>,
}

impl Intermediates {
    /// Keeps `der` (whose DER-encoded subject name is `subject`); false
    /// when it was kept already.
    pub(super) fn insert(&self, subject: Vec<u8>, der: CertificateDer<'static>) -> bool {
        let mut kept = self.kept.lock().expect("intermediates lock");
        if kept.iter().any(|k| k.der == der) {
            return false;
        }
        if kept.len() >= CAPACITY {
            kept.pop_front();
        }
        kept.push_back(Kept { subject, der });
        true
    }

    /// The kept certificates whose subject is `name` (DER).
    fn named(&self, name: &[u8]) -> Vec<CertificateDer<'static>> {
        let kept = self.kept.lock().expect("intermediates lock");
        kept.iter()
            .filter(|k| k.subject == name)
            .map(|k| k.der.clone())
            .collect()
    }

    /// The turn to fetch `url`, to hold while learning from it.
    pub(super) fn turn(&self, url: &Url) -> Arc<tokio::sync::Mutex<()>> {
        let mut learning = self.learning.lock().expect("learning lock");
        learning.retain(|_, turn| Arc::strong_count(turn) > 1);
        learning.entry(url.clone()).or_default().clone()
    }

    /// True when the issuer `missing` lacks is kept (learned by another
    /// fetch since this one's handshake failed).
    pub(super) fn has(&self, missing: &MissingIntermediate) -> bool {
        self.named(&missing.issuer).iter().any(|der| {
            Certificate::from_der(der)
                .is_ok_and(|c| may_issue(&c, &missing.issuer, missing.key_id.as_deref()))
        })
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.kept.lock().expect("intermediates lock").len()
    }
}

/// A chain that does not reach a root because a certificate's issuer is
/// missing, and where that certificate says its issuer is published. The
/// verifier returns it (inside rustls' `CertificateError::Other`) so that
/// `fetch`, which may talk to the network, can get the issuer and retry.
#[derive(Debug, Clone)]
pub struct MissingIntermediate {
    /// The missing issuer's name, DER-encoded, to check what is served.
    pub(super) issuer: Vec<u8>,
    /// The same, as text for the operator (RFC 4514).
    pub(super) issuer_text: String,
    /// The issuer's key id, when the certificate names it (AKI).
    pub(super) key_id: Option<Vec<u8>>,
    /// The `caIssuers` URLs (http or https), in the certificate's order.
    pub(super) urls: Vec<Url>,
}

impl fmt::Display for MissingIntermediate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate chain incomplete: the server did not send the intermediate {}",
            self.issuer_text
        )
    }
}

impl std::error::Error for MissingIntermediate {}

/// What became of a chain that failed with "unknown issuer", walked from
/// the leaf up through the certificates the server sent and those kept.
pub(super) struct Walk {
    /// Kept intermediates that continue the chain, to offer the verifier.
    pub(super) extra: Vec<CertificateDer<'static>>,
    /// Where the chain stops, when its top certificate names the URL of
    /// its missing issuer.
    pub(super) missing: Option<MissingIntermediate>,
}

/// Walks up from `leaf`; `None` when the leaf cannot be read (the
/// verifier's own error stands).
pub(super) fn walk(leaf: &[u8], sent: &[CertificateDer<'_>], kept: &Intermediates) -> Option<Walk> {
    let mut top = Certificate::from_der(leaf).ok()?;
    let sent: Vec<Certificate> = sent
        .iter()
        .filter_map(|c| Certificate::from_der(c).ok())
        .collect();
    let mut extra: Vec<CertificateDer<'static>> = Vec::new();
    for _ in 0..MAX_DEPTH {
        if self_issued(&top) {
            break;
        }
        let issuer = name_der(top.tbs_certificate().issuer());
        let key_id = authority_key_id(&top);
        if let Some(next) = sent.iter().find(|c| may_issue(c, &issuer, key_id.as_deref())) {
            top = next.clone();
            continue;
        }
        let named: Vec<(CertificateDer<'static>, Certificate)> = kept
            .named(&issuer)
            .into_iter()
            .filter(|der| !extra.contains(der))
            .filter_map(|der| Certificate::from_der(&der).ok().map(|c| (der, c)))
            .filter(|(_, c)| may_issue(c, &issuer, key_id.as_deref()))
            .collect();
        let Some(next) = named.first().map(|(_, c)| c.clone()) else {
            break;
        };
        extra.extend(named.into_iter().map(|(der, _)| der));
        top = next;
    }
    let missing = (!self_issued(&top))
        .then(|| {
            let urls = ca_issuers(&top);
            (!urls.is_empty()).then(|| MissingIntermediate {
                issuer: name_der(top.tbs_certificate().issuer()),
                issuer_text: top.tbs_certificate().issuer().to_string(),
                key_id: authority_key_id(&top),
                urls,
            })
        })
        .flatten();
    Some(Walk { extra, missing })
}

fn name_der(name: &x509_cert::name::Name) -> Vec<u8> {
    name.to_der().unwrap_or_default()
}

/// Whether `candidate` can be the issuer named `issuer` (DER) with key id
/// `key_id`: the names are equal, and so are the key ids where both
/// certificates give one. (The signature is the platform verifier's to
/// check.)
fn may_issue(candidate: &Certificate, issuer: &[u8], key_id: Option<&[u8]>) -> bool {
    name_der(candidate.tbs_certificate().subject()) == issuer
        && match (key_id, subject_key_id(candidate)) {
            (Some(wanted), Some(has)) => wanted == has.as_slice(),
            _ => true,
        }
}

/// The key id a certificate gives for its issuer's key (AKI).
fn authority_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    let (_, aki) = cert
        .tbs_certificate()
        .get_extension::<AuthorityKeyIdentifier>()
        .ok()??;
    aki.key_identifier.map(|k| k.as_bytes().to_vec())
}

/// The key id a certificate gives for its own key (SKI).
fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    let (_, ski) = cert
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
        .ok()??;
    Some(ski.0.as_bytes().to_vec())
}

fn self_issued(cert: &Certificate) -> bool {
    cert.tbs_certificate().issuer() == cert.tbs_certificate().subject()
}

/// The certificate's AIA `caIssuers` URLs that we can fetch (http, https);
/// LDAP ones are left out.
fn ca_issuers(cert: &Certificate) -> Vec<Url> {
    let Ok(Some((_, aia))) = cert
        .tbs_certificate()
        .get_extension::<AuthorityInfoAccessSyntax>()
    else {
        return Vec::new();
    };
    aia.0
        .iter()
        .filter(|d| d.access_method == x509_cert::der::oid::db::rfc5280::ID_AD_CA_ISSUERS)
        .filter_map(|d| match &d.access_location {
            GeneralName::UniformResourceIdentifier(uri) => Url::parse(uri.as_str()).ok(),
            _ => None,
        })
        .filter(crate::item::is_web)
        .collect()
}

/// Why what an AIA URL served cannot complete the chain.
#[derive(Debug, thiserror::Error)]
pub(super) enum Served {
    #[error("it is not a certificate (DER, PEM or PKCS#7)")]
    NotCertificates,
    #[error("it holds {found}, not the intermediate {wanted}")]
    WrongIssuer { found: String, wanted: String },
    #[error("it is {0}, a self-signed root: the chain ends at a root this machine does not trust")]
    UntrustedRoot(String),
}

/// The issuer `missing` lacks, from an AIA URL's `body`: the certificate
/// whose subject is the missing issuer, with its subject as text. The
/// body is one certificate in DER (what CAs serve as `.crt`/`.cer`), PEM
/// (one or more), or a PKCS#7 "certs-only" bundle (`.p7c`, DER or PEM).
pub(super) fn issuer_from(
    body: &[u8],
    missing: &MissingIntermediate,
) -> Result<(CertificateDer<'static>, String), Served> {
    let certs = certificates(body);
    let parsed: Vec<(CertificateDer<'static>, Certificate)> = certs
        .into_iter()
        .filter_map(|der| Certificate::from_der(&der).ok().map(|c| (der, c)))
        .collect();
    let Some(first) = parsed.first() else {
        return Err(Served::NotCertificates);
    };
    let Some((der, cert)) = parsed
        .iter()
        .find(|(_, c)| may_issue(c, &missing.issuer, missing.key_id.as_deref()))
    else {
        let same_name = parsed
            .iter()
            .any(|(_, c)| name_der(c.tbs_certificate().subject()) == missing.issuer);
        return Err(Served::WrongIssuer {
            found: match same_name {
                true => format!("{} with another key", missing.issuer_text),
                false => first.1.tbs_certificate().subject().to_string(),
            },
            wanted: missing.issuer_text.clone(),
        });
    };
    let subject = cert.tbs_certificate().subject().to_string();
    if self_issued(cert) {
        // A trusted root would have been found among the platform's: this
        // one is not, and offering it as an intermediate changes nothing.
        return Err(Served::UntrustedRoot(subject));
    }
    Ok((der.clone(), subject))
}

/// The DER subject name of `der`, for [`Intermediates::insert`].
pub(super) fn subject_of(der: &[u8]) -> Option<Vec<u8>> {
    Certificate::from_der(der)
        .ok()
        .map(|c| name_der(c.tbs_certificate().subject()))
}

const PKCS7_SIGNED_DATA: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

/// Every certificate in `body`: DER, PEM `CERTIFICATE` blocks, or a PKCS#7
/// bundle (DER, or PEM `PKCS7`).
fn certificates(body: &[u8]) -> Vec<CertificateDer<'static>> {
    if body.first() == Some(&0x30) {
        return match pkcs7_certificates(body) {
            Some(certs) => certs,
            None => vec![CertificateDer::from(body.to_vec())],
        };
    }
    let pem: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(body)
        .filter_map(Result::ok)
        .collect();
    if !pem.is_empty() {
        return pem;
    }
    pkcs7_pem(body)
        .and_then(|der| pkcs7_certificates(&der))
        .unwrap_or_default()
}

/// The DER inside a `-----BEGIN PKCS7-----` block.
fn pkcs7_pem(body: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    let begin = text.find("-----BEGIN PKCS7-----")?;
    let end = text[begin..].find("-----END PKCS7-----")? + begin + "-----END PKCS7-----".len();
    // rustls' PEM reader knows certificates, keys and CRLs only: the block
    // is relabelled as a certificate to borrow its base64 decoder.
    let relabelled = text[begin..end].replace("PKCS7-----", "CERTIFICATE-----");
    CertificateDer::from_pem_slice(relabelled.as_bytes())
        .ok()
        .map(|der| der.to_vec())
}

/// The certificates of a PKCS#7 (CMS, RFC 5652) `SignedData` that carries
/// only certificates, as CAs publish chains (`.p7c`):
/// `ContentInfo { signedData OID, [0] SignedData { version,
/// digestAlgorithms, encapContentInfo, [0] IMPLICIT certificates, ... } }`.
/// `None` when `der` is not one.
fn pkcs7_certificates(der: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    use x509_cert::der::asn1::{AnyRef, ObjectIdentifier};
    let content_info = AnyRef::from_der(der).ok()?;
    if content_info.tag() != Tag::Sequence {
        return None;
    }
    let mut r = SliceReader::new(content_info.value()).ok()?;
    if ObjectIdentifier::decode(&mut r).ok()? != PKCS7_SIGNED_DATA {
        return None;
    }
    let explicit = AnyRef::decode(&mut r).ok()?;
    let signed_data = AnyRef::from_der(explicit.value()).ok()?;
    let mut r = SliceReader::new(signed_data.value()).ok()?;
    let certificates_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(0),
    };
    while !r.is_finished() {
        let field = AnyRef::decode(&mut r).ok()?;
        if field.tag() != certificates_tag {
            continue;
        }
        let mut certs = Vec::new();
        let mut r = SliceReader::new(field.value()).ok()?;
        while !r.is_finished() {
            let cert = AnyRef::decode(&mut r).ok()?;
            if cert.tag() == Tag::Sequence {
                certs.push(CertificateDer::from(cert.to_der().ok()?));
            }
        }
        return Some(certs);
    }
    Some(Vec::new())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType,
        ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    use rustls::pki_types::PrivateKeyDer;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::TcpListener;
    use x509_cert::der::asn1::Ia5String;
    use x509_cert::ext::pkix::AccessDescription;

    use super::*;
    use crate::config::Config;
    use crate::fetch::tls::LazyPlatformVerifier;
    use crate::fetch::{FetchError, Fetcher, Validators};

    const FEED: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>أخبار</title></channel></rss>";

    /// Answers of a test server, by path: status, body.
    type Routes = Arc<Mutex<HashMap<String, (u16, Vec<u8>)>>>;

    /// A local server (plain HTTP, or HTTPS presenting `chain`) answering
    /// from its routes and keeping the paths asked for; it lives as long
    /// as the test's runtime.
    struct Server {
        addr: SocketAddr,
        routes: Routes,
        asked: Arc<Mutex<Vec<String>>>,
    }

    impl Server {
        async fn start(tls: Option<(Vec<CertificateDer<'static>>, &KeyPair)>) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let routes: Routes = Arc::default();
            let asked: Arc<Mutex<Vec<String>>> = Arc::default();
            let acceptor = tls.map(|(chain, key)| {
                let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
                let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_protocol_versions(rustls::ALL_VERSIONS)
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
                tokio_rustls::TlsAcceptor::from(Arc::new(config))
            });
            let (r, a) = (routes.clone(), asked.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let (r, a, acceptor) = (r.clone(), a.clone(), acceptor.clone());
                    tokio::spawn(async move {
                        match acceptor {
                            None => answer(tcp, r, a).await,
                            Some(acceptor) => {
                                if let Ok(tls) = acceptor.accept(tcp).await {
                                    answer(tls, r, a).await;
                                }
                            }
                        }
                    });
                }
            });
            Server { addr, routes, asked }
        }

        fn set(&self, path: &str, status: u16, body: impl Into<Vec<u8>>) {
            self.routes
                .lock()
                .unwrap()
                .insert(path.to_owned(), (status, body.into()));
        }

        fn url(&self, scheme: &str, path: &str) -> String {
            format!("{scheme}://{}{path}", self.addr)
        }

        fn asked(&self, path: &str) -> usize {
            self.asked.lock().unwrap().iter().filter(|p| *p == path).count()
        }
    }

    async fn answer(
        mut s: impl AsyncRead + AsyncWrite + Unpin,
        routes: Routes,
        asked: Arc<Mutex<Vec<String>>>,
    ) {
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&request);
        let path = text.split(' ').nth(1).unwrap_or_default().to_owned();
        asked.lock().unwrap().push(path.clone());
        let (status, body) = routes
            .lock()
            .unwrap()
            .get(&path)
            .cloned()
            .unwrap_or((404, Vec::new()));
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(&body).await;
        let _ = s.shutdown().await;
    }

    /// The DER of an AIA extension naming `url` as the issuer's.
    fn aia(url: &str) -> CustomExtension {
        let syntax = AuthorityInfoAccessSyntax(vec![AccessDescription {
            access_method: x509_cert::der::oid::db::rfc5280::ID_AD_CA_ISSUERS,
            access_location: GeneralName::UniformResourceIdentifier(Ia5String::new(url).unwrap()),
        }]);
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], syntax.to_der().unwrap())
    }

    fn ca_params(name: &str, aia_url: Option<&str>) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // As real CAs issue them: each names its issuer's key id.
        params.use_authority_key_identifier_extension = true;
        params.distinguished_name.push(DnType::CommonName, name);
        params.custom_extensions.extend(aia_url.map(aia));
        params
    }

    type Ca = CertifiedIssuer<'static, KeyPair>;

    fn root(name: &str) -> Ca {
        CertifiedIssuer::self_signed(ca_params(name, None), KeyPair::generate().unwrap()).unwrap()
    }

    fn intermediate(name: &str, aia_url: Option<&str>, by: &Ca) -> Ca {
        CertifiedIssuer::signed_by(ca_params(name, aia_url), KeyPair::generate().unwrap(), by).unwrap()
    }

    /// A leaf for 127.0.0.1 signed by `by`, naming `aia_url` as its
    /// issuer's, and its key.
    fn leaf(aia_url: Option<&str>, by: &Ca) -> (CertificateDer<'static>, KeyPair) {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "feeds.test");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.custom_extensions.extend(aia_url.map(aia));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, by).unwrap();
        (cert.der().clone(), key)
    }

    /// A fetcher whose verifier trusts `root` beside the platform's roots,
    /// with its own intermediates.
    fn fetcher(root: &Ca) -> (Fetcher, Arc<LazyPlatformVerifier>) {
        let config = Config::parse(
            std::path::Path::new("feeds.toml"),
            "[poll]\ntimeout = \"10s\"\n\n[[output]]\nname = \"o\"\ntags = [\"t\"]\n\n[[feed]]\nurl = \"https://localhost/feed\"\ntags = [\"t\"]\n",
        )
        .unwrap();
        let verifier = Arc::new(LazyPlatformVerifier::new(
            Arc::new(rustls::crypto::ring::default_provider()),
            vec![root.der().clone()],
        ));
        (
            Fetcher::with_verifier(&config.poll, verifier.clone()).unwrap(),
            verifier,
        )
    }

    async fn get(fetcher: &Fetcher, url: &str) -> Result<Vec<u8>, FetchError> {
        let url = Url::parse(url).unwrap();
        let fetched = tokio::time::timeout(
            Duration::from_secs(30),
            fetcher.fetch(&url, &Validators::default(), true),
        )
        .await
        .expect("the fetch is bounded by its own timeout")?;
        Ok(fetched.body.unwrap().to_vec())
    }

    /// An HTTPS feed server presenting only `leaf` (no intermediate).
    async fn feed_server(leaf: (CertificateDer<'static>, KeyPair)) -> Server {
        let server = Server::start(Some((vec![leaf.0], &leaf.1))).await;
        server.set("/feed.xml", 200, FEED);
        server
    }

    #[tokio::test]
    async fn an_incomplete_chain_is_completed_through_aia_once() {
        let aia_server = Server::start(None).await;
        let root = root("feedwire test root");
        let int = intermediate("feedwire test intermediate", None, &root);
        aia_server.set("/int.crt", 200, int.der().to_vec());
        let feed = feed_server(leaf(Some(&aia_server.url("http", "/int.crt")), &int)).await;
        let (fetcher, verifier) = fetcher(&root);

        let body = get(&fetcher, &feed.url("https", "/feed.xml"))
            .await
            .expect("completed through AIA");
        assert_eq!(body, FEED.as_bytes());
        assert_eq!(aia_server.asked("/int.crt"), 1);
        assert_eq!(verifier.intermediates.len(), 1);
        // Failed handshake, then the retried one.
        assert_eq!(feed.asked("/feed.xml"), 1);

        // The next fetch, and a page fetch, verify at once.
        get(&fetcher, &feed.url("https", "/feed.xml")).await.unwrap();
        get(&fetcher.for_pages(), &feed.url("https", "/feed.xml"))
            .await
            .unwrap();
        assert_eq!(aia_server.asked("/int.crt"), 1, "learned once");

        // Another server omitting the same intermediate needs no request.
        let other = feed_server(leaf(Some(&aia_server.url("http", "/int.crt")), &int)).await;
        get(&fetcher, &other.url("https", "/feed.xml")).await.unwrap();
        assert_eq!(aia_server.asked("/int.crt"), 1);
    }

    /// Servers omitting the same intermediate, fetched together (a round
    /// after a start): one AIA request.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fetches_that_miss_the_same_intermediate_together_make_one_request() {
        let aia_server = Server::start(None).await;
        let root = root("feedwire test root");
        let int = intermediate("feedwire test intermediate", None, &root);
        aia_server.set("/int.crt", 200, int.der().to_vec());
        let mut feeds = Vec::new();
        for _ in 0..4 {
            feeds.push(feed_server(leaf(Some(&aia_server.url("http", "/int.crt")), &int)).await);
        }
        let (fetcher, _) = fetcher(&root);
        let urls: Vec<String> = feeds.iter().map(|f| f.url("https", "/feed.xml")).collect();
        let fetches = urls.iter().map(|url| get(&fetcher, url));
        for got in futures_util::future::join_all(fetches).await {
            got.expect("completed");
        }
        assert_eq!(aia_server.asked("/int.crt"), 1);
    }

    #[tokio::test]
    async fn without_aia_fetching_the_same_chain_fails() {
        let aia_server = Server::start(None).await;
        let root = root("feedwire test root");
        let int = intermediate("feedwire test intermediate", None, &root);
        aia_server.set("/int.crt", 200, int.der().to_vec());
        let feed = feed_server(leaf(Some(&aia_server.url("http", "/int.crt")), &int)).await;
        let (fetcher, _) = fetcher(&root);
        let off = Fetcher {
            aia: false,
            ..fetcher
        };
        let e = get(&off, &feed.url("https", "/feed.xml")).await.unwrap_err();
        assert!(e.to_string().contains("certificate chain incomplete"), "{e}");
        assert_eq!(aia_server.asked("/int.crt"), 0);
    }

    #[tokio::test]
    async fn pem_and_pkcs7_intermediates_are_read() {
        let aia_server = Server::start(None).await;
        let root = root("feedwire test root");
        for (path, served) in [
            ("/int.pem", "pem"),
            ("/int.p7c", "p7c"),
            ("/int-p7.pem", "p7 pem"),
        ] {
            let int = intermediate(&format!("feedwire test intermediate {served}"), None, &root);
            let body = match served {
                "pem" => int.pem().into_bytes(),
                "p7c" => pkcs7(&[root.der(), int.der()]),
                _ => pem_block("PKCS7", &pkcs7(&[int.der()])),
            };
            aia_server.set(path, 200, body);
            let feed = feed_server(leaf(Some(&aia_server.url("http", path)), &int)).await;
            let (fetcher, _) = fetcher(&root);
            get(&fetcher, &feed.url("https", "/feed.xml"))
                .await
                .unwrap_or_else(|e| panic!("{served}: {e}"));
            assert_eq!(aia_server.asked(path), 1);
        }
    }

    #[tokio::test]
    async fn aia_is_followed_up_two_intermediates() {
        let aia_server = Server::start(None).await;
        let root = root("feedwire test root");
        let upper = intermediate("feedwire upper intermediate", None, &root);
        let lower = intermediate(
            "feedwire lower intermediate",
            Some(&aia_server.url("http", "/upper.crt")),
            &upper,
        );
        aia_server.set("/upper.crt", 200, upper.der().to_vec());
        aia_server.set("/lower.crt", 200, lower.der().to_vec());
        let feed = feed_server(leaf(Some(&aia_server.url("http", "/lower.crt")), &lower)).await;
        let (fetcher, verifier) = fetcher(&root);
        get(&fetcher, &feed.url("https", "/feed.xml"))
            .await
            .expect("two levels");
        assert_eq!(
            (aia_server.asked("/lower.crt"), aia_server.asked("/upper.crt")),
            (1, 1)
        );
        assert_eq!(verifier.intermediates.len(), 2);
        get(&fetcher, &feed.url("https", "/feed.xml")).await.unwrap();
        assert_eq!(aia_server.asked.lock().unwrap().len(), 2);
    }

    /// A CA renews its intermediate under the same name: servers with
    /// certificates from either omit theirs, and both are learned, told
    /// apart by key id.
    #[tokio::test]
    async fn intermediates_of_one_name_are_told_apart_by_key() {
        let aia_server = Server::start(None).await;
        let root = root("feedwire test root");
        let old = intermediate("feedwire test intermediate", None, &root);
        let new = intermediate("feedwire test intermediate", None, &root);
        aia_server.set("/old.crt", 200, old.der().to_vec());
        aia_server.set("/new.crt", 200, new.der().to_vec());
        let before = feed_server(leaf(Some(&aia_server.url("http", "/old.crt")), &old)).await;
        let after = feed_server(leaf(Some(&aia_server.url("http", "/new.crt")), &new)).await;
        let (fetcher, verifier) = fetcher(&root);
        get(&fetcher, &before.url("https", "/feed.xml"))
            .await
            .expect("the old one");
        get(&fetcher, &after.url("https", "/feed.xml"))
            .await
            .expect("the new one");
        get(&fetcher, &before.url("https", "/feed.xml"))
            .await
            .expect("the old one, kept");
        assert_eq!(
            (aia_server.asked("/old.crt"), aia_server.asked("/new.crt")),
            (1, 1)
        );
        assert_eq!(verifier.intermediates.len(), 2);
    }

    #[tokio::test]
    async fn a_failing_aia_url_is_named_in_the_error() {
        let aia_server = Server::start(None).await;
        let root = root("feedwire test root");
        let int = intermediate("feedwire test intermediate", None, &root);
        let other = intermediate("someone else", None, &root);
        aia_server.set("/other.crt", 200, other.der().to_vec());
        // The same name, another key: what a CA's renewed intermediate is.
        let renewed = intermediate("feedwire test intermediate", None, &root);
        aia_server.set("/renewed.crt", 200, renewed.der().to_vec());
        aia_server.set("/junk.crt", 200, "<html>not here</html>");
        let (fetcher, verifier) = fetcher(&root);
        for (path, why) in [
            ("/gone.crt", "HTTP 404"),
            ("/junk.crt", "it is not a certificate (DER, PEM or PKCS#7)"),
            (
                "/other.crt",
                "it holds CN=someone else, not the intermediate CN=feedwire test intermediate",
            ),
            (
                "/renewed.crt",
                "it holds CN=feedwire test intermediate with another key, not the intermediate CN=feedwire test intermediate",
            ),
        ] {
            let url = aia_server.url("http", path);
            let feed = feed_server(leaf(Some(&url), &int)).await;
            let e = get(&fetcher, &feed.url("https", "/feed.xml")).await.unwrap_err();
            let expected = format!(
                "certificate chain incomplete: the server did not send the intermediate CN=feedwire test intermediate, and its AIA URL {url} failed: {why}"
            );
            assert_eq!(e.to_string(), expected);
            assert_eq!(feed.asked("/feed.xml"), 0);
        }
        assert_eq!(verifier.intermediates.len(), 0);
    }

    #[tokio::test]
    async fn a_chain_ending_at_an_untrusted_root_still_fails() {
        let aia_server = Server::start(None).await;
        let trusted = root("feedwire test root");
        let untrusted = root("not a root anyone trusts");
        let int = intermediate(
            "feedwire test intermediate",
            Some(&aia_server.url("http", "/root.crt")),
            &untrusted,
        );
        aia_server.set("/int.crt", 200, int.der().to_vec());
        aia_server.set("/root.crt", 200, untrusted.der().to_vec());
        let feed = feed_server(leaf(Some(&aia_server.url("http", "/int.crt")), &int)).await;
        let (fetcher, _) = fetcher(&trusted);
        let e = get(&fetcher, &feed.url("https", "/feed.xml")).await.unwrap_err();
        // The server's fault, never counted towards a network outage.
        assert!(matches!(e, FetchError::Tls(_)) && !e.is_network(), "{e:?}");
        let e = e.to_string();
        assert!(e.contains("UnknownIssuer"), "{e}");
        assert!(
            e.contains("ends at CN=not a root anyone trusts, a root this machine does not trust"),
            "{e}"
        );
        assert_eq!(feed.asked("/feed.xml"), 0);

        // The same, sent whole by the server: as before, no AIA request.
        let (leaf_der, key) = leaf(None, &int);
        let whole = Server::start(Some((
            vec![leaf_der, int.der().clone(), untrusted.der().clone()],
            &key,
        )))
        .await;
        whole.set("/feed.xml", 200, FEED);
        let e = get(&fetcher, &whole.url("https", "/feed.xml")).await.unwrap_err();
        assert!(matches!(e, FetchError::Tls(_)) && !e.is_network(), "{e:?}");
        assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    }

    #[tokio::test]
    async fn a_leaf_without_aia_fails_as_before() {
        let aia_server = Server::start(None).await;
        let root = root("feedwire test root");
        let int = intermediate("feedwire test intermediate", None, &root);
        let feed = feed_server(leaf(None, &int)).await;
        let (fetcher, _) = fetcher(&root);
        let e = get(&fetcher, &feed.url("https", "/feed.xml")).await.unwrap_err();
        assert!(matches!(e, FetchError::Tls(_)) && !e.is_network(), "{e:?}");
        assert_eq!(
            e.to_string(),
            "TLS: invalid peer certificate: UnknownIssuer",
            "{e}"
        );
        assert!(aia_server.asked.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_aia_url_on_a_private_address_needs_allow_private_networks() {
        let aia_server = Server::start(None).await;
        let root = root("feedwire test root");
        let int = intermediate("feedwire test intermediate", None, &root);
        aia_server.set("/int.crt", 200, int.der().to_vec());
        let (leaf_der, _) = leaf(Some(&aia_server.url("http", "/int.crt")), &int);
        let (fetcher, verifier) = fetcher(&root);
        let missing = walk(&leaf_der, &[], &verifier.intermediates)
            .unwrap()
            .missing
            .unwrap();
        let refused = fetcher.learn_intermediate(&missing, false).await.unwrap_err();
        assert!(matches!(refused, FetchError::Refused(_)), "{refused:?}");
        assert!(
            refused.to_string().contains("allow_private_networks"),
            "{refused}"
        );
        assert_eq!(aia_server.asked("/int.crt"), 0);
        let learned = fetcher.learn_intermediate(&missing, true).await.expect("allowed");
        assert_eq!(
            learned.map(|(_, subject)| subject).as_deref(),
            Some("CN=feedwire test intermediate")
        );
        assert_eq!(verifier.intermediates.len(), 1);
    }

    #[test]
    fn the_kept_intermediates_are_bounded() {
        let kept = Intermediates::default();
        for i in 0..CAPACITY + 10 {
            let subject = (i as u32).to_be_bytes().to_vec();
            assert!(kept.insert(subject, CertificateDer::from(format!("cert {i}").into_bytes())));
        }
        let last = CAPACITY as u32 + 9;
        assert!(!kept.insert(
            last.to_be_bytes().to_vec(),
            CertificateDer::from(format!("cert {last}").into_bytes())
        ));
        assert_eq!(kept.len(), CAPACITY);
        assert!(kept.named(&[0, 0, 0, 0]).is_empty(), "the oldest went first");
        assert_eq!(kept.named(&last.to_be_bytes()).len(), 1);
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    /// A PKCS#7 "certs-only" SignedData, as `openssl crl2pkcs7 -nocrl`
    /// makes them.
    fn pkcs7(certs: &[&CertificateDer<'_>]) -> Vec<u8> {
        let oid = |o: &str| {
            x509_cert::der::oid::ObjectIdentifier::new_unwrap(o)
                .to_der()
                .unwrap()
        };
        let signed_data = tlv(
            0x30,
            &[
                tlv(0x02, &[1]),
                tlv(0x31, &[]),
                tlv(0x30, &oid("1.2.840.113549.1.7.1")),
                tlv(0xa0, &certs.iter().flat_map(|c| c.to_vec()).collect::<Vec<u8>>()),
                tlv(0xa1, &[]),
                tlv(0x31, &[]),
            ]
            .concat(),
        );
        tlv(
            0x30,
            &[oid("1.2.840.113549.1.7.2"), tlv(0xa0, &signed_data)].concat(),
        )
    }

    fn pem_block(label: &str, der: &[u8]) -> Vec<u8> {
        let b64 = base64_encode(der);
        format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n").into_bytes()
    }

    fn base64_encode(data: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn certificates_are_read_from_der_pem_and_pkcs7() {
        let root = root("feedwire test root");
        let int = intermediate("feedwire test intermediate", None, &root);
        let both = vec![root.der().clone(), int.der().clone()];
        assert_eq!(certificates(int.der()), vec![int.der().clone()]);
        assert_eq!(
            certificates(format!("{}{}", root.pem(), int.pem()).as_bytes()),
            both
        );
        assert_eq!(certificates(&pkcs7(&[root.der(), int.der()])), both);
        assert_eq!(
            certificates(&pem_block("PKCS7", &pkcs7(&[root.der(), int.der()]))),
            both
        );
        assert!(certificates(b"<html>").is_empty());
    }
}
