//! What packing the sled store's records costs and saves (BENCHMARKS.md,
//! "Run 6 (fourth session): store"): for the 1,000-feed farm's items and
//! the real feeds in `../shared/corpus/realworld` (or `$FEEDWIRE_REALWORLD`),
//! the bytes of the plain postcard records and of the same records packed
//! with zstd at the store's level, and the CPU time per item of encoding,
//! packing, unpacking and decoding (this thread's CPU clock, so other
//! processes on the machine do not count).
//!
//! ```sh
//! cargo run --release --example record_codec
//! cargo run --release --example record_codec -- --variants   # packing options compared
//! record_codec --dump DIR                  # plain records to DIR/farm.rec, DIR/real.rec
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*variant_pack_all*' \
//!     record_codec --callgrind DIR/farm.rec l1            # instructions of one option
//! ```
//!
//! A packing option (`--variants`, `--callgrind`) is written as
//! comma-separated parts: `lN` zstd level N (negative: zstd's fast mode),
//! `litoff` / `liton` literals stored raw (no Huffman) / always
//! Huffman-coded (zstd's fast mode turns it off), `tN` target length (the
//! fast match finder's step), `hN` / `wN` / `mN` hash log,
//! window log, minimum match, `minN` records under N bytes stay plain,
//! `bigN` records of N bytes and more are packed at level 1 (as the store does
//! from 8 KiB: `l-1,big8192`), `lz4` lz4 blocks (`lz4_flex`, its unsafe paths)
//! instead of zstd frames (with `bigN`: zstd level 1 from N bytes).
//! Records are `[0] ++ postcard(item)`, as `store::encode` writes them.

#[path = "support/farm.rs"]
mod farm;

use feedwire::item::Item;
use feedwire::parse::{parse_feed, FeedRef, Limits};

/// The level `store::encode_packed` uses.
const LEVEL: i32 = -1;

#[path = "support/cpu.rs"]
mod cpu;
use cpu::thread_cpu;

/// CPU microseconds per item of `f` over `n` items (best of 3 passes).
fn per_item(n: usize, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = thread_cpu();
            f();
            thread_cpu() - t
        })
        .fold(f64::INFINITY, f64::min)
        * 1e6
        / n as f64
}

fn measure(name: &str, items: &[Item]) {
    let plain: Vec<Vec<u8>> = items
        .iter()
        .map(|i| postcard::to_stdvec(i).expect("encode"))
        .collect();
    let mut packer = zstd::bulk::Compressor::new(LEVEL).expect("zstd");
    let mut unpacker = zstd::bulk::Decompressor::new().expect("zstd");
    let packed: Vec<Vec<u8>> = plain.iter().map(|p| packer.compress(p).expect("pack")).collect();
    let (n, raw, small) = (
        items.len(),
        plain.iter().map(Vec::len).sum::<usize>(),
        packed.iter().map(Vec::len).sum::<usize>(),
    );
    let encode = per_item(n, || {
        for i in items {
            std::hint::black_box(postcard::to_stdvec(i).expect("encode"));
        }
    });
    let pack = per_item(n, || {
        for p in &plain {
            std::hint::black_box(packer.compress(p).expect("pack"));
        }
    });
    let unpack = per_item(n, || {
        for (p, z) in plain.iter().zip(&packed) {
            std::hint::black_box(unpacker.decompress(z, p.len()).expect("unpack"));
        }
    });
    let decode = per_item(n, || {
        for p in &plain {
            std::hint::black_box(postcard::from_bytes::<Item>(p).expect("decode"));
        }
    });
    println!(
        "| {name} | {n} | {:.0} B | {:.0} B ({:.2}×) | {encode:.1} | {pack:.1} | {unpack:.1} | {decode:.1} |",
        raw as f64 / n as f64,
        small as f64 / n as f64,
        small as f64 / raw as f64,
    );
}

fn feed_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            feed_files(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "xml" || x == "rss" || x == "atom")
        {
            out.push(p);
        }
    }
}

/// One way of packing a record (see the module doc for its spelling).
#[derive(Clone, Debug)]
struct Variant {
    name: String,
    level: i32,
    params: Vec<zstd::zstd_safe::CParameter>,
    min: usize,
    /// Records of at least this many bytes are packed at level 1.
    big: usize,
    /// lz4 blocks below `big` instead of zstd frames.
    lz4: bool,
}

impl Variant {
    fn parse(spec: &str) -> Variant {
        use zstd::zstd_safe::{CParameter, ParamSwitch};
        let mut v = Variant {
            name: spec.to_owned(),
            level: 1,
            params: Vec::new(),
            min: 0,
            big: usize::MAX,
            lz4: false,
        };
        for part in spec.split(',') {
            let num = |prefix: &str| part[prefix.len()..].parse::<i64>().expect("number");
            if part == "lz4" {
                v.lz4 = true;
            } else if let Some(n) = part.strip_prefix("big") {
                v.big = n.parse().expect("big");
            } else if let Some(n) = part.strip_prefix("min") {
                v.min = n.parse().expect("min");
            } else if part == "litoff" {
                v.params
                    .push(CParameter::LiteralCompressionMode(ParamSwitch::Disable));
            } else if part == "liton" {
                v.params
                    .push(CParameter::LiteralCompressionMode(ParamSwitch::Enable));
            } else if part.starts_with('t') {
                v.params.push(CParameter::TargetLength(num("t") as u32));
            } else if part.starts_with('l') {
                v.level = num("l") as i32;
            } else if part.starts_with('h') {
                v.params.push(CParameter::HashLog(num("h") as u32));
            } else if part.starts_with('w') {
                v.params.push(CParameter::WindowLog(num("w") as u32));
            } else if part.starts_with('m') {
                v.params.push(CParameter::MinMatch(num("m") as u32));
            } else {
                panic!("unknown part {part:?} of {spec:?}");
            }
        }
        v
    }

    fn packer(&self) -> zstd::bulk::Compressor<'static> {
        let mut p = zstd::bulk::Compressor::new(self.level).expect("zstd");
        for &param in &self.params {
            p.set_parameter(param).expect("parameter");
        }
        p
    }

    /// What the store would keep: packed, unless under `min` bytes or
    /// not smaller packed.
    fn pack(&self, packer: &mut zstd::bulk::Compressor<'static>, plain: &[u8]) -> Option<Vec<u8>> {
        if plain.len() < self.min {
            return None;
        }
        if self.lz4 && plain.len() < self.big {
            // Tagged as the store would (one byte, 0xff), so sizes compare.
            let mut out = Vec::with_capacity(1 + 4 + lz4_flex::block::get_maximum_output_size(plain.len()));
            out.push(LZ4_TAG);
            out.extend((plain.len() as u32).to_le_bytes());
            let at = out.len();
            out.resize(out.capacity(), 0);
            let n = LZ4_TABLE
                .with_borrow_mut(|t| lz4_flex::block::compress_into_with_table(plain, &mut out[at..], t))
                .expect("lz4");
            out.truncate(at + n);
            return (out.len() < plain.len()).then_some(out);
        }
        let level = if plain.len() >= self.big { 1 } else { self.level };
        packer
            .set_parameter(zstd::zstd_safe::CParameter::CompressionLevel(level))
            .expect("level");
        let packed = packer.compress(plain).expect("pack");
        (packed.len() < plain.len()).then_some(packed)
    }
}

#[inline(never)]
fn variant_pack_all(v: &Variant, plain: &[Vec<u8>]) -> Vec<Option<Vec<u8>>> {
    let mut packer = v.packer();
    plain.iter().map(|p| v.pack(&mut packer, p)).collect()
}

#[inline(never)]
fn variant_unpack_all(plain: &[Vec<u8>], packed: &[Option<Vec<u8>>]) -> usize {
    let mut unpacker = zstd::bulk::Decompressor::new().expect("zstd");
    let mut n = 0;
    for (p, z) in plain.iter().zip(packed) {
        if let Some(z) = z {
            let out = if z[0] == LZ4_TAG {
                let size = u32::from_le_bytes(z[1..5].try_into().expect("size")) as usize;
                let mut out = vec![0; size];
                let got = lz4_flex::block::decompress_into(&z[5..], &mut out).expect("lz4");
                assert_eq!(got, size);
                out
            } else {
                unpacker.decompress(z, p.len()).expect("unpack")
            };
            assert_eq!(&out, p);
            n += out.len();
        }
    }
    n
}

/// First byte of an lz4-packed record in this comparison.
const LZ4_TAG: u8 = 0xff;

thread_local! {
    // lz4's hash table, reused as a store would (a new one is 8 KB zeroed).
    static LZ4_TABLE: std::cell::RefCell<lz4_flex::block::CompressTable> =
        std::cell::RefCell::new(lz4_flex::block::CompressTable::default());
}

/// The variants `--variants` compares, unless named on the command line.
const VARIANTS: &[&str] = &[
    "l1",
    "l-1",
    "l-2",
    "l-3",
    "l-5",
    "l1,litoff",
    "l1,h10",
    "l1,h11",
    "l1,h12",
    "l1,m5",
    "l1,m6",
    "l2",
    "l1,min512",
    "l1,min1024",
    "l1,min2048",
    "l-1,big8192",
    "lz4,big8192",
    "lz4",
];

fn records(items: &[Item]) -> Vec<Vec<u8>> {
    items
        .iter()
        .map(|i| {
            let mut r = vec![0u8];
            r.extend(postcard::to_stdvec(i).expect("encode"));
            r
        })
        .collect()
}

fn compare(name: &str, plain: &[Vec<u8>], variants: &[Variant]) {
    let (n, raw) = (plain.len(), plain.iter().map(Vec::len).sum::<usize>());
    println!();
    println!(
        "{name}: {n} records, {:.0} B plain on average",
        raw as f64 / n as f64
    );
    println!();
    println!("| packing | stored | ratio | packed records | pack µs | unpack µs |");
    println!("|---|---:|---:|---:|---:|---:|");
    for v in variants {
        let packed = variant_pack_all(v, plain);
        let stored: usize = plain
            .iter()
            .zip(&packed)
            .map(|(p, z)| z.as_ref().map_or(p.len(), Vec::len))
            .sum();
        let pack = per_item(n, || {
            std::hint::black_box(variant_pack_all(v, plain));
        });
        let unpack = per_item(n, || {
            std::hint::black_box(variant_unpack_all(plain, &packed));
        });
        println!(
            "| {} | {:.0} B | {:.3}× | {:.1} % | {pack:.2} | {unpack:.2} |",
            v.name,
            stored as f64 / n as f64,
            stored as f64 / raw as f64,
            100.0 * packed.iter().filter(|z| z.is_some()).count() as f64 / n as f64,
        );
    }
}

/// At least a third of the record's bytes are Arabic letters (two-byte
/// UTF-8 with lead byte 0xD8..=0xDB).
fn mostly_arabic(record: &[u8]) -> bool {
    let leads = record.iter().filter(|&&b| (0xd8..=0xdb).contains(&b)).count();
    leads * 2 * 3 >= record.len()
}

fn write_records(path: &std::path::Path, plain: &[Vec<u8>]) {
    let mut out = Vec::new();
    for p in plain {
        out.extend((p.len() as u32).to_le_bytes());
        out.extend(p);
    }
    std::fs::write(path, out).expect("write records");
}

fn read_records(path: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).expect("read records");
    let (mut at, mut out) = (0, Vec::new());
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("len")) as usize;
        out.push(bytes[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--callgrind") {
        // Only the packing and unpacking run under callgrind's toggles.
        let plain = read_records(&args[1]);
        let v = Variant::parse(&args[2]);
        let packed = variant_pack_all(&v, &plain);
        let n = variant_unpack_all(&plain, &packed);
        println!("{}: {} records, {n} bytes unpacked", v.name, plain.len());
        return;
    }
    let feeds = std::env::var("RECORD_CODEC_FEEDS").map_or(1000, |n| n.parse().expect("feeds"));
    let f = farm::Farm::generate(feeds, 1000);
    let farm_items: Vec<Item> = f
        .feeds
        .iter()
        .flat_map(|d| d.parse(&url::Url::parse(&f.url(d.index, 1)).expect("url")).items)
        .collect();
    let dir = std::env::var("FEEDWIRE_REALWORLD").unwrap_or_else(|_| "../shared/corpus/realworld".into());
    let mut files = Vec::new();
    feed_files(std::path::Path::new(&dir), &mut files);
    files.sort();
    let url = url::Url::parse("https://example.org/feed").expect("url");
    let real: Vec<Item> = files
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter_map(|body| {
            let feed = FeedRef {
                url: &url,
                name: "real",
            };
            parse_feed(feed, &body, None, chrono::Utc::now(), Limits::default()).ok()
        })
        .flat_map(|p| p.items)
        .collect();
    if args.first().map(String::as_str) == Some("--dump") {
        let dir = std::path::Path::new(&args[1]);
        std::fs::create_dir_all(dir).expect("dump dir");
        write_records(&dir.join("farm.rec"), &records(&farm_items));
        write_records(&dir.join("real.rec"), &records(&real));
        return;
    }
    if args.first().map(String::as_str) == Some("--variants") {
        let names: Vec<&str> = if args.len() > 1 {
            args[1..].iter().map(String::as_str).collect()
        } else {
            VARIANTS.to_vec()
        };
        let variants: Vec<Variant> = names.iter().map(|n| Variant::parse(n)).collect();
        println!("CPU µs per record, this thread's clock, best of 3 passes");
        compare(&format!("farm ({feeds} feeds)"), &records(&farm_items), &variants);
        if !real.is_empty() {
            let real = records(&real);
            compare(
                &format!("realworld corpus ({} files)", files.len()),
                &real,
                &variants,
            );
            let arabic: Vec<Vec<u8>> = real.into_iter().filter(|r| mostly_arabic(r)).collect();
            compare("realworld records mostly Arabic", &arabic, &variants);
        }
        return;
    }
    println!("zstd level {LEVEL}; CPU µs per item, best of 3 passes");
    println!();
    println!("| items | n | plain record | packed | encode | pack | unpack | decode |");
    println!("|---|---|---|---|---|---|---|---|");
    measure("farm (1,000 feeds)", &farm_items);
    if real.is_empty() {
        println!("(no real feeds under {dir})");
    } else {
        measure(&format!("realworld corpus ({} files)", files.len()), &real);
    }
}
