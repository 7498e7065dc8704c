//! The body checks as a stream: hex SHA-256, checksums from headers and
//! trailers, aws-chunked decoding end to end, and the hold-back of the last
//! piece until every check passed.

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use super::{prepare, PayloadError, Prepared};
use crate::auth::aws_v4::tests::{at, keys_with, vector_files, Req, SECRET};
use crate::auth::{verify_request, AuthOptions, Chunked, Payload};
use crate::http::aws_chunked::tests::body_bytes;
use crate::http::checksum::ChecksumAlgorithm;
use crate::storage::ByteStream;

fn stream(pieces: Vec<Vec<u8>>) -> ByteStream {
    Box::pin(futures_util::stream::iter(
        pieces.into_iter().map(|p| Ok(Bytes::from(p))),
    ))
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

/// Everything the body yields before its first error, and that error's reason.
async fn drain(p: Prepared) -> (Vec<u8>, Option<PayloadError>) {
    let mut body = p.body;
    let mut out = Vec::new();
    while let Some(item) = body.next().await {
        match item {
            Ok(b) => out.extend_from_slice(&b),
            Err(_) => return (out, p.failure.get().cloned()),
        }
    }
    (out, p.failure.get().cloned())
}

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[tokio::test]
async fn hex_sha256_verified_while_streaming() {
    let data = b"hello, world".to_vec();
    let pieces = vec![data[..5].to_vec(), data[5..].to_vec()];
    let mut h = headers(&[("content-length", "12")]);
    let p = prepare(
        stream(pieces.clone()),
        false,
        &Payload::Sha256(sha(&data)),
        &mut h,
    )
    .await
    .unwrap();
    assert_eq!(drain(p).await, (data.clone(), None));
    // Mismatch: the error comes before the last piece, so a store that stops at
    // Content-Length never sees all the bytes.
    let p = prepare(
        stream(pieces),
        false,
        &Payload::Sha256(sha(b"other")),
        &mut h,
    )
    .await
    .unwrap();
    let (got, err) = drain(p).await;
    assert_eq!(got, b"hello");
    assert!(
        matches!(err, Some(PayloadError::Sha256Mismatch { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn empty_body_is_checked_up_front() {
    // Content-Length 0 and a hash of something else: refused before any handler.
    let mut h = headers(&[("content-length", "0")]);
    let e = prepare(stream(vec![]), false, &Payload::Sha256(sha(b"x")), &mut h)
        .await
        .err()
        .unwrap();
    assert_eq!(e.code, crate::error::ErrorCode::XAmzContentSHA256Mismatch);
    let p = prepare(stream(vec![]), false, &Payload::Sha256(sha(b"")), &mut h)
        .await
        .unwrap();
    assert_eq!(drain(p).await, (vec![], None));
    // No body at all (a GET): the transport says so, the hash must be of nothing.
    let mut h = headers(&[]);
    let e = prepare(stream(vec![]), true, &Payload::Sha256(sha(b"x")), &mut h)
        .await
        .err()
        .unwrap();
    assert_eq!(e.code, crate::error::ErrorCode::XAmzContentSHA256Mismatch);
    assert!(
        prepare(stream(vec![]), true, &Payload::Sha256(sha(b"")), &mut h)
            .await
            .is_ok()
    );
    // An empty object with a CRC32 header gets its checksum recorded.
    let mut h = headers(&[
        ("content-length", "0"),
        ("x-amz-checksum-crc32", "AAAAAA=="),
    ]);
    let p = prepare(stream(vec![]), false, &Payload::Unsigned, &mut h)
        .await
        .unwrap();
    let slot = p.checksum.clone();
    assert_eq!(drain(p).await, (vec![], None));
    assert_eq!(slot.get().unwrap().value, "AAAAAA==");
}

#[tokio::test]
async fn checksum_headers() {
    let data = b"123456789".to_vec();
    for (alg, good) in [
        (ChecksumAlgorithm::Crc32, "y/Q5Jg=="),
        (ChecksumAlgorithm::Crc32c, "4waSgw=="),
        (ChecksumAlgorithm::Crc64Nvme, "rosUhgp5mIg="),
    ] {
        let mut h = headers(&[("content-length", "9"), (alg.header_name(), good)]);
        let p = prepare(
            stream(vec![data.clone()]),
            false,
            &Payload::Unsigned,
            &mut h,
        )
        .await
        .unwrap();
        let slot = p.checksum.clone();
        assert_eq!(drain(p).await, (data.clone(), None), "{alg:?}");
        assert_eq!(slot.get().unwrap().algorithm, alg);
        assert_eq!(slot.get().unwrap().value, good);
        // Mismatch → BadDigest, nothing recorded, last piece withheld.
        let mut h = headers(&[("content-length", "9"), (alg.header_name(), "AAAAAA==")]);
        let p = prepare(
            stream(vec![data.clone()]),
            false,
            &Payload::Unsigned,
            &mut h,
        )
        .await
        .unwrap();
        let slot = p.checksum.clone();
        let (got, err) = drain(p).await;
        assert!(got.is_empty());
        assert_eq!(err, Some(PayloadError::ChecksumMismatch(alg)));
        assert!(slot.get().is_none());
    }
    // Two checksum headers are refused.
    let mut h = headers(&[("x-amz-checksum-crc32", "a"), ("x-amz-checksum-sha1", "b")]);
    assert!(prepare(stream(vec![]), false, &Payload::Unsigned, &mut h)
        .await
        .is_err());
}

/// The captured aws-chunked uploads through the whole transform: decoded
/// bytes, headers rewritten, the trailer checksum verified and recorded.
#[tokio::test]
async fn captured_aws_chunked_uploads() {
    let mut n = 0;
    for v in vector_files() {
        if v["auth"] != "sigv4-header" {
            continue;
        }
        let now = at(v["inputs"]["time"].as_str().unwrap());
        for r in v["requests"].as_array().unwrap() {
            let req = Req::from_json(r);
            let verified = verify_request(
                &req.parts(),
                &keys_with(SECRET),
                now,
                &AuthOptions::default(),
            )
            .unwrap();
            let Some(body) = body_bytes(r) else { continue };
            let mut h = req.headers.clone();
            let chunked = matches!(verified.payload, Payload::Chunked(_));
            let p = prepare(stream(vec![body.clone()]), false, &verified.payload, &mut h)
                .await
                .unwrap();
            let slot = p.checksum.clone();
            let (data, err) = drain(p).await;
            assert_eq!(err, None, "{}", v["id"]);
            if chunked {
                let want = req.headers["x-amz-decoded-content-length"]
                    .to_str()
                    .unwrap();
                assert_eq!(data.len().to_string(), want, "{}", v["id"]);
                assert_eq!(h["content-length"].to_str().unwrap(), want);
                assert!(
                    !h.get_all("content-encoding")
                        .iter()
                        .any(|v| v.to_str().unwrap().contains("aws-chunked")),
                    "{}",
                    v["id"]
                );
                // Flip one data byte: unsigned trailers catch it by the checksum.
                let mut bad = body.clone();
                let i = bad.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                if data.is_empty() {
                    continue;
                }
                bad[i] ^= 1;
                let mut h = req.headers.clone();
                let p = prepare(stream(vec![bad]), false, &verified.payload, &mut h)
                    .await
                    .unwrap();
                let (_, err) = drain(p).await;
                assert!(
                    matches!(
                        err,
                        Some(PayloadError::ChecksumMismatch(_) | PayloadError::Chunked(_))
                    ),
                    "{}: {err:?}",
                    v["id"]
                );
            } else {
                assert_eq!(data, body);
            }
            if h.keys()
                .any(|k| ChecksumAlgorithm::from_header_name(k.as_str()).is_some())
                || req.headers.contains_key("x-amz-trailer")
            {
                assert!(slot.get().is_some(), "{}: checksum not recorded", v["id"]);
            }
            n += 1;
        }
    }
    assert!(n >= 60, "{n}");
}

#[tokio::test]
async fn trailer_checksum_mismatch_is_bad_digest() {
    let mode = Payload::Chunked(Chunked {
        signing: None,
        trailer: true,
    });
    let body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n".to_vec();
    let mut h = headers(&[
        ("x-amz-decoded-content-length", "5"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
        ("content-encoding", "gzip, aws-chunked"),
    ]);
    let p = prepare(stream(vec![body]), false, &mode, &mut h)
        .await
        .unwrap();
    assert_eq!(h["content-encoding"], "gzip");
    let (got, err) = drain(p).await;
    assert!(got.is_empty(), "no byte of a failed upload is released");
    assert_eq!(
        err,
        Some(PayloadError::ChecksumMismatch(ChecksumAlgorithm::Crc32))
    );
    // Decoded length differs from the header.
    let body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n".to_vec();
    let mut h = headers(&[
        ("x-amz-decoded-content-length", "4"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ]);
    let p = prepare(stream(vec![body.clone()]), false, &mode, &mut h)
        .await
        .unwrap();
    assert!(matches!(
        drain(p).await.1,
        Some(PayloadError::DecodedLength { .. })
    ));
    let mut h = headers(&[
        ("x-amz-decoded-content-length", "5"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ]);
    let p = prepare(stream(vec![body]), false, &mode, &mut h)
        .await
        .unwrap();
    assert_eq!(drain(p).await, (b"hello".to_vec(), None));
    // Missing x-amz-decoded-content-length.
    let mut h = headers(&[("x-amz-trailer", "x-amz-checksum-crc32")]);
    assert!(prepare(stream(vec![]), false, &mode, &mut h).await.is_err());
}
