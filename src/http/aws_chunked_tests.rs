//! The aws-chunked decoder: AWS's published signed-chunk example, every
//! captured aws-chunked upload, every split point, and broken bodies.

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

use super::{ChunkError, Decoder};
use crate::auth::aws_v4::tests::{
    at, documented_chunked_request, keys_with, vector_files, Req, SECRET,
};
use crate::auth::{verify_request, AuthOptions, Chunked, Payload};

/// AWS's example: 65 KiB of 'a' in a 64 KiB chunk, a 1 KiB chunk, the final chunk.
pub(crate) fn documented_body() -> Vec<u8> {
    let sigs = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];
    let mut b = Vec::new();
    b.extend_from_slice(format!("10000;chunk-signature={}\r\n", sigs[0]).as_bytes());
    b.extend(std::iter::repeat_n(b'a', 65536));
    b.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", sigs[1]).as_bytes());
    b.extend(std::iter::repeat_n(b'a', 1024));
    b.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n\r\n", sigs[2]).as_bytes());
    assert_eq!(b.len(), 66824);
    b
}

fn documented_mode() -> Chunked {
    let req = documented_chunked_request();
    let v = verify_request(
        &req.parts(),
        &keys_with(SECRET),
        at("20130524T000000Z"),
        &AuthOptions::default(),
    )
    .unwrap();
    match v.payload {
        Payload::Chunked(c) => c,
        other => panic!("{other:?}"),
    }
}

/// Decodes `body` fed in the given pieces; returns the data and the decoder.
fn run(mode: &Chunked, trailer: &str, pieces: &[&[u8]]) -> Result<(Vec<u8>, Decoder), ChunkError> {
    let mut d = Decoder::new(mode, trailer);
    let mut out = Vec::new();
    for p in pieces {
        d.decode(Bytes::copy_from_slice(p), &mut |b| {
            out.extend_from_slice(&b)
        })?;
    }
    d.finish()?;
    Ok((out, d))
}

#[test]
fn aws_documented_signed_chunks() {
    let mode = documented_mode();
    let body = documented_body();
    let (data, d) = run(&mode, "", &[&body]).unwrap();
    assert_eq!(data.len(), 66560);
    assert!(data.iter().all(|&b| b == b'a'));
    assert_eq!(d.chunks(), 3);
    // Byte by byte, and a few odd splits.
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(run(&mode, "", &bytes).unwrap().0.len(), 66560);
    for split in [
        1, 2, 85, 86, 87, 65621, 65622, 65623, 65624, 66820, 66822, 66823,
    ] {
        let (a, b) = body.split_at(split);
        assert_eq!(run(&mode, "", &[a, b]).unwrap().0, data, "split at {split}");
    }
    // Without the optional final CRLF.
    assert!(run(&mode, "", &[&body[..body.len() - 2]]).is_ok());
}

#[test]
fn aws_documented_mutations() {
    let mode = documented_mode();
    let body = documented_body();
    // A data byte of each chunk changed: that chunk's signature fails.
    for i in [100, 65712 + 10] {
        let mut b = body.clone();
        b[i] = b'b';
        assert!(
            matches!(run(&mode, "", &[&b]), Err(ChunkError::Signature(_))),
            "{i}"
        );
    }
    // A signature character changed (first, second and final chunk).
    for sig in ["ad80c730", "0055627c", "b6c6ea8a"] {
        let s = String::from_utf8(body.clone())
            .unwrap()
            .replacen(sig, "00000000", 1);
        assert!(
            matches!(
                run(&mode, "", &[s.as_bytes()]),
                Err(ChunkError::Signature(_))
            ),
            "{sig}"
        );
    }
    // Chunks swapped in the chain: a seed from another request.
    let mut other = mode.clone();
    if let Some(s) = other.signing.as_mut() {
        s.seed[0] ^= 1;
    }
    assert!(matches!(
        run(&other, "", &[&body]),
        Err(ChunkError::Signature(_))
    ));
    // A missing chunk signature.
    let s = String::from_utf8(body.clone()).unwrap().replacen(
        ";chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "",
        1,
    );
    assert!(matches!(
        run(&mode, "", &[s.as_bytes()]),
        Err(ChunkError::Framing(_))
    ));
    // Truncated anywhere before the end of the final chunk's header.
    for cut in [0, 1, 10, 86, 5000, 65621, 65623, 66700, 66821] {
        assert!(run(&mode, "", &[&body[..cut]]).is_err(), "cut at {cut}");
    }
    // Bytes after the end.
    let mut b = body.clone();
    b.extend_from_slice(b"x");
    assert!(matches!(run(&mode, "", &[&b]), Err(ChunkError::Framing(_))));
    // Bad size line, data not followed by CRLF.
    let s = String::from_utf8(body.clone())
        .unwrap()
        .replacen("10000;", "1000g;", 1);
    assert!(matches!(
        run(&mode, "", &[s.as_bytes()]),
        Err(ChunkError::Framing(_))
    ));
    let s = String::from_utf8(body.clone())
        .unwrap()
        .replacen("10000;", "FFFF;", 1);
    assert!(run(&mode, "", &[s.as_bytes()]).is_err());
}

pub(crate) fn body_bytes(r: &Value) -> Option<Vec<u8>> {
    let b = &r["body"];
    match b["encoding"].as_str()? {
        "base64" => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b["data"].as_str()?)
                .unwrap(),
        ),
        "utf8" => Some(b["data"].as_str()?.as_bytes().to_vec()),
        _ => None,
    }
}

/// Every captured aws-chunked upload (signed and unsigned, with trailers)
/// decodes to `x-amz-decoded-content-length` bytes, at every split point.
#[test]
fn every_captured_aws_chunked_body_decodes() {
    let mut n = 0;
    for v in vector_files() {
        let now = at(v["inputs"]["time"].as_str().unwrap());
        for r in v["requests"].as_array().unwrap() {
            if v["auth"] == "sigv4-post-policy" {
                continue;
            }
            let req = Req::from_json(r);
            let verified = verify_request(
                &req.parts(),
                &keys_with(SECRET),
                now,
                &AuthOptions::default(),
            )
            .unwrap();
            let Payload::Chunked(mode) = verified.payload else {
                continue;
            };
            let Some(body) = body_bytes(r) else {
                continue; // elided (over 1 MiB): signature only
            };
            let trailer = req
                .headers
                .get("x-amz-trailer")
                .map_or("", |h| h.to_str().unwrap());
            let want: usize = req.headers["x-amz-decoded-content-length"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let (data, d) =
                run(&mode, trailer, &[&body]).unwrap_or_else(|e| panic!("{}: {e}", v["id"]));
            assert_eq!(data.len(), want, "{}", v["id"]);
            if mode.trailer {
                assert!(
                    d.trailers()
                        .iter()
                        .any(|(n, _)| n.starts_with("x-amz-checksum-")),
                    "{}",
                    v["id"]
                );
            }
            // Split at every byte boundary (bodies under 100 KiB; the big one in steps).
            let step = if body.len() > 4096 { 97 } else { 1 };
            for split in (0..=body.len()).step_by(step) {
                let (a, b) = body.split_at(split);
                let (got, _) = run(&mode, trailer, &[a, b])
                    .unwrap_or_else(|e| panic!("{} split {split}: {e}", v["id"]));
                assert_eq!(got, data, "{} split {split}", v["id"]);
            }
            // Truncated: every proper prefix fails.
            for cut in (0..body.len()).step_by(step) {
                if cut + 2 == body.len() && !mode.trailer {
                    continue; // the final CRLF is optional
                }
                assert!(
                    run(&mode, trailer, &[&body[..cut]]).is_err(),
                    "{} cut {cut}",
                    v["id"]
                );
            }
            // Signed: a flipped data byte breaks the chain (or the trailer).
            if mode.signing.is_some() {
                let mut b = body.clone();
                let i = b.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                b[i] ^= 1;
                assert!(
                    matches!(run(&mode, trailer, &[&b]), Err(ChunkError::Signature(_))),
                    "{}",
                    v["id"]
                );
                // The trailer signature.
                let text = String::from_utf8(body.clone()).unwrap();
                let at_sig = text.find("x-amz-trailer-signature:").unwrap()
                    + "x-amz-trailer-signature:".len();
                let mut b = body.clone();
                b[at_sig] = if b[at_sig] == b'0' { b'1' } else { b'0' };
                assert_eq!(
                    run(&mode, trailer, &[&b]).unwrap_err(),
                    ChunkError::Signature("trailer".into()),
                    "{}",
                    v["id"]
                );
                // A changed trailer value also breaks the trailer signature.
                let tv = text.find("x-amz-checksum-").unwrap();
                let colon = tv + text[tv..].find(':').unwrap() + 1;
                let mut b = body.clone();
                b[colon] = if b[colon] == b'A' { b'B' } else { b'A' };
                assert_eq!(
                    run(&mode, trailer, &[&b]).unwrap_err(),
                    ChunkError::Signature("trailer".into()),
                    "{}",
                    v["id"]
                );
            }
            // A trailer the header did not announce.
            if mode.trailer {
                assert!(
                    matches!(
                        run(&mode, "x-amz-checksum-other", &[&body]),
                        Err(ChunkError::Framing(_))
                    ),
                    "{}",
                    v["id"]
                );
            }
            n += 1;
        }
    }
    assert!(n >= 15, "only {n} aws-chunked bodies");
}

#[test]
fn unsigned_trailer_empty_object() {
    let mode = Chunked {
        signing: None,
        trailer: true,
    };
    let body = b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    for i in 0..=body.len() {
        let (a, b) = body.split_at(i);
        let (data, d) = run(&mode, "x-amz-checksum-crc32", &[a, b]).unwrap();
        assert!(data.is_empty());
        assert_eq!(
            d.trailers(),
            &[("x-amz-checksum-crc32".to_string(), "AAAAAA==".to_string())]
        );
    }
    // Trailer section not finished.
    assert_eq!(
        run(&mode, "x-amz-checksum-crc32", &[&body[..body.len() - 2]]).unwrap_err(),
        ChunkError::Truncated
    );
    // An over-long line is refused without buffering it.
    let long = vec![b'1'; super::MAX_LINE + 10];
    assert!(matches!(
        run(&mode, "", &[&long]),
        Err(ChunkError::Framing(_))
    ));
}
