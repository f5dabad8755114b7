//! What completing incomplete certificate chains costs (BENCHMARKS.md,
//! "Run 20 (eighteenth session): incomplete certificate chains"): HTTPS
//! fetches through `Fetcher` of a local server that sends its whole chain
//! (leaf and intermediate) and of one that sends only its leaf, whose
//! intermediate is learned from the leaf's AIA URL (a plain HTTP server
//! here, counting its requests). Prints the first fetch of each and the
//! mean wall and CPU time of the next ones (client and servers, all on
//! this process's one runtime thread), alternating the two servers.
//!
//! The servers offer no session resumption unless `--resume`: every
//! handshake is a full one, whose certificates are verified (a resumed
//! handshake verifies none, whatever the chain).
//!
//! The root is made here and trusted through `SSL_CERT_FILE` (the platform
//! verifier's setting on Linux), set before any thread starts.
//!
//! ```sh
//! cargo run --release --example chain_cost -- both 300 [--resume]
//! valgrind --tool=callgrind chain_cost complete 200    # instructions, one server
//! valgrind --tool=callgrind chain_cost incomplete 200
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use feedwire::fetch::{Fetcher, Validators};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;
use x509_cert::der::asn1::Ia5String;
use x509_cert::der::Encode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};

#[path = "support/cpu.rs"]
mod cpu;

const BODY: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>أخبار</title></channel></rss>";

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

fn leaf(aia: &str, by: &CertifiedIssuer<'static, KeyPair>) -> (CertificateDer<'static>, KeyPair) {
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

/// Serves `body` to every request, over TLS with `chain` when given
/// (offering session resumption when `resume`); counts requests.
async fn serve(
    tls: Option<(Vec<CertificateDer<'static>>, KeyPair)>,
    body: Vec<u8>,
    resume: bool,
) -> (String, Arc<AtomicUsize>) {
    let acceptor = tls.map(|(chain, key)| {
        let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let mut config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(rustls::ALL_VERSIONS)
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
        if !resume {
            config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            config.send_tls13_tickets = 0;
        }
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}/x", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let (counted, body) = (count.clone(), Arc::new(body));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, body, counted) = (acceptor.clone(), body.clone(), counted.clone());
            tokio::spawn(async move {
                match acceptor {
                    None => answer(tcp, &body, &counted).await,
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            answer(tls, &body, &counted).await;
                        }
                    }
                }
            });
        }
    });
    (url, count)
}

async fn answer(
    mut s: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    body: &[u8],
    count: &AtomicUsize,
) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    count.fetch_add(1, Ordering::Relaxed);
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(body).await;
    let _ = s.shutdown().await;
}

/// CPU time of this thread: the runtime has one thread, so client and
/// servers both.
fn cpu() -> Duration {
    Duration::from_secs_f64(cpu::thread_cpu())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "both".into());
    let n: usize = args.next().map(|a| a.parse().expect("a count")).unwrap_or(300);
    let resume = args.next().as_deref() == Some("--resume");
    let root =
        CertifiedIssuer::self_signed(ca_params("chain_cost root"), KeyPair::generate().unwrap()).unwrap();
    let dir = std::env::temp_dir().join(format!("chain_cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let roots = dir.join("roots.pem");
    std::fs::write(&roots, root.pem()).unwrap();
    // Before the runtime's threads: the verifier reads it at the first
    // handshake.
    std::env::set_var("SSL_CERT_FILE", &roots);
    std::env::remove_var("SSL_CERT_DIR");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(&mode, n, resume, root));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn run(mode: &str, n: usize, resume: bool, root: CertifiedIssuer<'static, KeyPair>) {
    let int = CertifiedIssuer::signed_by(
        ca_params("chain_cost intermediate"),
        KeyPair::generate().unwrap(),
        &root,
    )
    .unwrap();
    let (aia_url, aia_count) = serve(None, int.der().to_vec(), false).await;
    let (whole_leaf, whole_key) = leaf(&aia_url, &int);
    let (whole, _) = serve(
        Some((vec![whole_leaf, int.der().clone()], whole_key)),
        BODY.into(),
        resume,
    )
    .await;
    let (part_leaf, part_key) = leaf(&aia_url, &int);
    let (part, _) = serve(Some((vec![part_leaf], part_key)), BODY.into(), resume).await;

    let config = feedwire::config::Config::parse(
        std::path::Path::new("feeds.toml"),
        "[[output]]\nname = \"o\"\ntags = [\"t\"]\n\n[[feed]]\nurl = \"https://localhost/feed\"\ntags = [\"t\"]\n",
    )
    .unwrap();
    let fetcher = Fetcher::new(&config.poll).unwrap();
    let mut servers: Vec<(&str, Url)> = Vec::new();
    if mode != "incomplete" {
        servers.push(("complete chain", Url::parse(&whole).unwrap()));
    }
    if mode != "complete" {
        servers.push(("leaf only", Url::parse(&part).unwrap()));
    }
    let fetch = |url: Url| {
        let fetcher = fetcher.clone();
        async move {
            fetcher
                .fetch(&url, &Validators::default(), true)
                .await
                .expect("fetched")
        }
    };
    for (name, url) in &servers {
        let (t, c) = (Instant::now(), cpu());
        fetch(url.clone()).await;
        println!(
            "{name}: first fetch {:.2} ms wall, {:.2} ms CPU; AIA requests so far {}",
            t.elapsed().as_secs_f64() * 1e3,
            (cpu() - c).as_secs_f64() * 1e3,
            aia_count.load(Ordering::Relaxed)
        );
    }
    let mut wall = vec![Duration::ZERO; servers.len()];
    let mut spent = vec![Duration::ZERO; servers.len()];
    for _ in 0..n {
        for (i, (_, url)) in servers.iter().enumerate() {
            let (t, c) = (Instant::now(), cpu());
            fetch(url.clone()).await;
            wall[i] += t.elapsed();
            spent[i] += cpu() - c;
        }
    }
    for (i, (name, _)) in servers.iter().enumerate() {
        println!(
            "{name}: next {n} fetches, mean {:.0} µs wall, {:.0} µs CPU",
            wall[i].as_secs_f64() * 1e6 / n as f64,
            spent[i].as_secs_f64() * 1e6 / n as f64
        );
    }
    println!("AIA requests in all: {}", aia_count.load(Ordering::Relaxed));
}
