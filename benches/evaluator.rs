//! Micro-benchmarks for the pure GET/HEAD path: Range parse + resolve, precondition parse +
//! evaluate (RFC 9110 §13.2.2, §14), and CRC-64/XZ (`x-cos-hash-crc64ecma`, cos.md §4.2;
//! <https://cloud.tencent.com/document/product/436/7753>) with `crc64fast`.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::{HeaderMap, HeaderValue, Method};
use localcos::conditional::{evaluate, ByteRange, Conditions, RangeHeader, Validators};

fn range(c: &mut Criterion) {
    let mut g = c.benchmark_group("range");
    for value in ["bytes=0-1048575", "bytes=-500", "bytes=0-1,3-4"] {
        g.bench_function(format!("parse+resolve {value}"), |b| {
            b.iter(|| match ByteRange::parse(black_box(value)) {
                RangeHeader::Single(r) => r.resolve(black_box(16 << 20)).ok(),
                RangeHeader::Ignored => None,
            })
        });
    }
    g.finish();
}

fn preconditions(c: &mut Criterion) {
    // A typical revalidating GET: the client has the current ETag and Last-Modified.
    let mut h = HeaderMap::new();
    h.insert(
        http::header::IF_NONE_MATCH,
        HeaderValue::from_static("\"ee8de918d05640145b18f70f4c3aa602\""),
    );
    h.insert(
        http::header::IF_MODIFIED_SINCE,
        HeaderValue::from_static("Tue, 14 Nov 2023 22:13:20 GMT"),
    );
    let v = Validators {
        etag: "ee8de918d05640145b18f70f4c3aa602",
        last_modified: UNIX_EPOCH + Duration::from_millis(1_700_000_000_750),
    };
    let mut g = c.benchmark_group("preconditions");
    g.bench_function("from_headers+evaluate conditional GET", |b| {
        b.iter(|| {
            let conds = Conditions::from_headers(black_box(&h));
            evaluate(&Method::GET, &conds, black_box(&v))
        })
    });
    let empty = HeaderMap::new();
    g.bench_function("from_headers+evaluate plain GET", |b| {
        b.iter(|| {
            let conds = Conditions::from_headers(black_box(&empty));
            evaluate(&Method::GET, &conds, black_box(&v))
        })
    });
    g.finish();
}

fn crc64(c: &mut Criterion) {
    // x-cos-hash-crc64ecma is CRC-64/XZ; check the catalogue value before timing anything.
    let mut check = crc64fast::Digest::new();
    check.write(b"123456789");
    assert_eq!(check.sum64(), 0x995D_C9BB_DF19_39FA);

    let mut g = c.benchmark_group("crc64-xz");
    for size in [4 << 10, 1 << 20] {
        let buf: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("crc64fast {} KiB", size >> 10), |b| {
            b.iter(|| {
                let mut d = crc64fast::Digest::new();
                d.write(black_box(&buf));
                d.sum64()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, range, preconditions, crc64);
criterion_main!(benches);
