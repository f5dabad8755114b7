//! Feeds behind an incomplete certificate chain (the server sends its leaf
//! without the intermediate): the real binary completes the chain from the
//! leaf's AIA URL, trusting the tests' own root through `SSL_CERT_FILE`,
//! the platform verifier's own setting on Linux.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use x509_cert::der::asn1::Ia5String;
use x509_cert::der::Encode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};

use crate::support::*;

type Ca = CertifiedIssuer<'static, KeyPair>;

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

/// A root and an intermediate named `name` that it signed, the
/// intermediate served by `aia` at `/int.crt` (whose URL is returned).
fn root_and_intermediate(aia: &FeedServer, name: &str) -> (Ca, Ca, String) {
    let root =
        CertifiedIssuer::self_signed(ca_params("feedwire test root"), KeyPair::generate().unwrap()).unwrap();
    let int = CertifiedIssuer::signed_by(ca_params(name), KeyPair::generate().unwrap(), &root).unwrap();
    let url = aia.route(
        "/int.crt",
        Route::feed(int.der().to_vec(), "application/pkix-cert"),
    );
    (root, int, url)
}

/// The real binary's `poll-once` of the config at `path`, trusting `root`
/// alone (written into `dir`).
fn poll_once_trusting(root: &Ca, path: &std::path::Path, dir: &std::path::Path) -> std::process::Output {
    let roots = dir.join("roots.pem");
    std::fs::write(&roots, root.pem()).unwrap();
    Binary::command()
        .env("SSL_CERT_FILE", &roots)
        .env_remove("SSL_CERT_DIR")
        .args(["poll-once", "--config"])
        .arg(path)
        .output()
        .unwrap()
}

/// A leaf for 127.0.0.1 signed by `by`, whose AIA extension names `aia`
/// as the URL of its issuer's certificate.
fn leaf(aia: &str, by: &Ca) -> (CertificateDer<'static>, KeyPair) {
    let syntax = AuthorityInfoAccessSyntax(vec![AccessDescription {
        access_method: x509_cert::der::oid::db::rfc5280::ID_AD_CA_ISSUERS,
        access_location: GeneralName::UniformResourceIdentifier(Ia5String::new(aia).unwrap()),
    }]);
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "feeds.test");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 1],
        syntax.to_der().unwrap(),
    ));
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, by).unwrap();
    (cert.der().clone(), key)
}

/// An HTTPS server on 127.0.0.1 presenting only `leaf` (no intermediate)
/// and answering every request with `body`; it lives as long as the
/// test's runtime. Returns its feed URL.
async fn https_feed(
    leaf: (CertificateDer<'static>, KeyPair),
    body: Vec<u8>,
    content_type: &'static str,
) -> String {
    let key = PrivateKeyDer::try_from(leaf.1.serialize_der()).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.0], key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Arc::new(body);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://{addr}/feed.xml")
}

/// Two feeds (one UTF-8, one windows-1256) whose servers both omit the
/// same intermediate: `poll-once` stores both, fetching the intermediate
/// once, and says which it learned for which feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_behind_an_incomplete_chain_are_polled_through_aia() {
    let aia = FeedServer::start().await;
    let (root, int, int_url) = root_and_intermediate(&aia, "وكالة الشهادات الوسيطة");

    let aj = https_feed(
        leaf(&int_url, &int),
        fixture("aljazeera_rss2.xml"),
        "application/rss+xml",
    )
    .await;
    let youm7 = https_feed(leaf(&int_url, &int), fixture("youm7_cp1256.xml"), "text/xml").await;

    let dir = tempfile::tempdir().unwrap();
    // One feed at a time: the second must verify with what the first learned.
    let path = TestConfig::new()
        .poll("concurrency", "1")
        .feed("الجزيرة نت", &aj)
        .feed("اليوم السابع", &youm7)
        .write(dir.path());
    let out = poll_once_trusting(&root, &path, dir.path());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("feeds: 2 ok (0 not modified), 0 failed"),
        "{stdout}"
    );
    assert_eq!(aia.requests_to("/int.crt"), 1, "learned once for both feeds");
    let learned: Vec<&str> = stderr.lines().filter(|l| l.contains("learned it from")).collect();
    assert_eq!(learned.len(), 1, "{stderr}");
    assert!(learned[0].contains("CN=وكالة الشهادات الوسيطة"), "{stderr}");
    assert!(
        learned[0].contains(&aj) || learned[0].contains(&youm7),
        "{stderr}"
    );

    let config = load_config(&path);
    let store = feedwire::store::Store::open(&config.storage.path).unwrap();
    let rendered = feedwire::app::render_all(&config, &store).unwrap();
    let (_, titles) = entries_of(&rendered["politics.rss"].body);
    assert!(
        titles.contains(&"البرلمان يصوّت على قانون الانتخابات الجديد".to_owned()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"الحكومة تعلن استقالتها بعد اجتماع طارئ".to_owned()),
        "{titles:?}"
    );
}

/// Without the root, the same chain completed through AIA is still refused,
/// and the feed's error says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_chain_must_still_end_at_a_trusted_root() {
    let aia = FeedServer::start().await;
    let (_, int, int_url) = root_and_intermediate(&aia, "feedwire test intermediate");
    let other =
        CertifiedIssuer::self_signed(ca_params("another root"), KeyPair::generate().unwrap()).unwrap();
    let aj = https_feed(
        leaf(&int_url, &int),
        fixture("aljazeera_rss2.xml"),
        "application/rss+xml",
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let path = TestConfig::new().feed("الجزيرة نت", &aj).write(dir.path());
    let out = poll_once_trusting(&other, &path, dir.path());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("failed: {aj}")), "{stdout}");
    assert!(
        stdout.contains("invalid peer certificate: UnknownIssuer"),
        "{stdout}"
    );
    assert_eq!(aia.requests_to("/int.crt"), 1);
    assert!(!String::from_utf8(out.stderr).unwrap().contains("learned"));
}
