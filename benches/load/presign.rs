//! COS q-sign (sha1) signing for the load bench: pre-signed GET URLs and header-signed PUTs,
//! following `shared/spec/cos.md` §1.2–1.8 (<https://cloud.tencent.com/document/product/436/7778>).
//!
//! Only what the bench needs: the host header is the one signed header, no query parameter is
//! signed, and the path is plain ASCII (so the wire path and the decoded UriPathname agree).

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::{Digest, Sha1};

/// cos.md §1.3: everything except `A–Z a–z 0–9 - _ . ~` is `%XX` with upper-case hex.
const COS_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A SecretId/SecretKey pair, as handed to the server through `LOCALCOS_SECRET_ID`/`_KEY`.
pub struct Credentials {
    pub secret_id: String,
    pub secret_key: String,
}

/// The seven auth fields of one signature, in the order every SDK sends them (cos.md §1.1).
pub struct Signature {
    fields: [(&'static str, String); 7],
}

impl Signature {
    /// Pre-signed URL query: the fields as query parameters, `;` sent as `%3B` like Python does.
    pub fn to_query(&self) -> String {
        let pairs: Vec<String> = self
            .fields
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect();
        pairs.join("&")
    }

    /// `Authorization` header value: the fields joined with `&`, values raw.
    pub fn to_header(&self) -> String {
        let pairs: Vec<String> = self
            .fields
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        pairs.join("&")
    }
}

/// Signs `method path` for `host`, valid from `t0` to `t1` (Unix seconds).
///
/// `path` is the decoded UriPathname, for path-style requests the full `/<bucket>/<key>`.
pub fn sign(
    creds: &Credentials,
    method: &str,
    path: &str,
    host: &str,
    t0: u64,
    t1: u64,
) -> Signature {
    let key_time = format!("{t0};{t1}");

    // SignKey = hex(HMAC-SHA1(SecretKey, q-key-time))
    let sign_key = hmac_sha1_hex(creds.secret_key.as_bytes(), key_time.as_bytes());

    // HttpString = method \n UriPathname \n HttpParameters \n HttpHeaders \n
    // HttpParameters is empty (q-url-param-list is empty); HttpHeaders covers host only.
    let http_string = format!(
        "{}\n{path}\n\nhost={}\n",
        method.to_ascii_lowercase(),
        encode(host)
    );

    // StringToSign = "sha1" \n q-sign-time \n hex(SHA1(HttpString)) \n
    let string_to_sign = format!(
        "sha1\n{key_time}\n{}\n",
        hex::encode(Sha1::digest(http_string))
    );

    // Signature = hex(HMAC-SHA1(SignKey as its 40-char hex text, StringToSign))
    let signature = hmac_sha1_hex(sign_key.as_bytes(), string_to_sign.as_bytes());

    Signature {
        fields: [
            ("q-sign-algorithm", "sha1".to_owned()),
            ("q-ak", creds.secret_id.clone()),
            ("q-sign-time", key_time.clone()),
            ("q-key-time", key_time),
            ("q-header-list", "host".to_owned()),
            ("q-url-param-list", String::new()),
            ("q-signature", signature),
        ],
    }
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, COS_ENCODE).to_string()
}

fn hmac_sha1_hex(key: &[u8], msg: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks the signer against `py_presign_get_ip` from `shared/vectors/cos/python_sdk_vectors.json`
/// (a pre-signed GET of `dir/a b.txt`, signed host `127.0.0.1`) before any figure is trusted.
/// A bench is not run by the test harness, so this runs at start-up instead of as a `#[test]`.
pub fn self_check() -> Result<(), String> {
    let creds = Credentials {
        secret_id: "AKIDexampleSecretId0123456789ABCDEFGH".to_owned(),
        secret_key: "exampleSecretKey0123456789abcdef".to_owned(),
    };
    let query = sign(
        &creds,
        "GET",
        "/dir/a b.txt",
        "127.0.0.1",
        1699999940,
        1700000300,
    )
    .to_query();
    let expected = "q-sign-algorithm=sha1&q-ak=AKIDexampleSecretId0123456789ABCDEFGH\
                    &q-sign-time=1699999940%3B1700000300&q-key-time=1699999940%3B1700000300\
                    &q-header-list=host&q-url-param-list=&q-signature=4dd71c5d8f602ec3962b8aebcee030b0571a0c84";
    if query == expected {
        Ok(())
    } else {
        Err(format!(
            "q-sign self-check failed:\n  got      {query}\n  expected {expected}"
        ))
    }
}
