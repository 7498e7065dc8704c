//! Which bucket and key a request addresses, from its Host (or absolute-form
//! authority) and path: spec cos.md §2 (modes H1–H5) and NOTES-ON-ISSUES 2, 6, 7.
//!
//! Order: reserved `/-/` paths on non-bucket hosts → configured domain map →
//! service hosts → bucket suffixes (built-in and configured) → the
//! `<name>-<appid>` first-label fallback (three labels or more) → bare host
//! (default bucket, else path-style `/<bucket>/<key>`, `GET /` = service).

use std::collections::HashMap;
use std::fmt;

use crate::auth::Family;
use crate::error::{Error, ErrorCode};

/// Longest key COS accepts, in UTF-8 bytes (436/14518).
pub const MAX_KEY_BYTES: usize = 850;

/// Host-resolution settings, taken from `Config`.
#[derive(Debug, Clone)]
pub struct Addressing {
    pub appid: String,
    pub region: String,
    /// Extra bucket suffixes: `<bucket>.<base>` is virtual-hosted (e.g. `cos.local`).
    pub base_domains: Vec<String>,
    /// Extra hosts that serve GET Service.
    pub service_hosts: Vec<String>,
    /// Custom domain → bucket (full name).
    pub domains: HashMap<String, String>,
    /// Bucket for bare hosts (IP, localhost, a compose service name).
    pub default_bucket: Option<String>,
}

/// A validated bucket name with its APPID suffix, e.g. `examplebucket-1250000000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketName(String);

impl BucketName {
    /// Validates `name` and appends `-<appid>` when it carries none
    /// (NOTES 7: any numeric suffix is accepted).
    /// Rules (436/13312): `[a-z0-9-]`, no leading/trailing `-`; the whole
    /// `<name>-<appid>.cos.<region>.myqcloud.com` at most 60 characters.
    pub fn parse(name: &str, appid: &str, region: &str) -> Result<BucketName, Error> {
        let valid_chars = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_chars
            || name.starts_with('-')
            || name.ends_with('-')
            || name == "."
            || name == ".."
        {
            return Err(Error::with_message(
                ErrorCode::InvalidBucketName,
                format!("The specified bucket name `{name}` is not valid."),
            ));
        }
        let full = if has_appid_suffix(name) {
            name.to_string()
        } else {
            format!("{name}-{appid}")
        };
        let (short, _) = full.rsplit_once('-').unwrap_or((&full, ""));
        if short.is_empty() || short.ends_with('-') {
            return Err(Error::with_message(
                ErrorCode::InvalidBucketName,
                format!("The specified bucket name `{name}` is not valid."),
            ));
        }
        // `<full>.cos.<region>.myqcloud.com`
        if full.len() + ".cos.".len() + region.len() + ".myqcloud.com".len() > 60 {
            return Err(Error::new(ErrorCode::BucketNameTooLong));
        }
        Ok(BucketName(full))
    }

    /// Validates `name` and uses it as given: how S3 and OSS clients name
    /// buckets (`mybucket`, no APPID). Same characters as COS (`[a-z0-9-]`,
    /// no dots, so every name also works in a COS host name), 1–63 long.
    pub fn parse_exact(name: &str) -> Result<BucketName, Error> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !valid {
            return Err(Error::with_message(
                ErrorCode::InvalidBucketName,
                format!("The specified bucket name `{name}` is not valid."),
            ));
        }
        if name.len() > 63 {
            return Err(Error::new(ErrorCode::BucketNameTooLong));
        }
        Ok(BucketName(name.to_string()))
    }

    /// A bucket name in a family's convention: COS completes it with the
    /// APPID, S3 and OSS use it as given.
    pub fn parse_for(name: &str, a: &Addressing, family: Family) -> Result<BucketName, Error> {
        match family {
            Family::Cos => BucketName::parse(name, &a.appid, &a.region),
            Family::S3 | Family::Oss => BucketName::parse_exact(name),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `<name>-<digits>`: a COS bucket name with its APPID.
pub fn has_appid_suffix(name: &str) -> bool {
    match name.rsplit_once('-') {
        Some((head, digits)) => {
            !head.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// A validated object key: 1..=850 UTF-8 bytes, no ASCII control characters.
/// Never normalised and never used as a file path (NOTES 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn parse(key: &str) -> Result<ObjectKey, Error> {
        if key.len() > MAX_KEY_BYTES {
            return Err(Error::new(ErrorCode::KeyTooLong));
        }
        if key.is_empty() || key.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(Error::with_message(
                ErrorCode::InvalidObjectName,
                "The object key contains characters that are not allowed.",
            ));
        }
        Ok(ObjectKey(key.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// GET Service (list buckets).
    Service,
    Bucket(BucketName),
    Object(BucketName, ObjectKey),
    /// localcos's own endpoints under `/-/` on non-bucket hosts (health, metrics, console).
    Reserved(String),
}

impl Target {
    pub fn bucket(&self) -> Option<&BucketName> {
        match self {
            Target::Bucket(b) | Target::Object(b, _) => Some(b),
            _ => None,
        }
    }
}

/// How the Host named (or did not name) a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostKind {
    Bucket(String),
    /// `<bucket>.oss-<region>.<domain>`: ali-oss with `sldEnable` repeats the
    /// bucket as the first path segment (oss.md §3).
    OssBucket(String),
    Service,
    Bare,
}

/// Strips the port (and IPv6 brackets) and lower-cases.
pub fn host_without_port(host: &str) -> String {
    let h = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        }
    };
    h.to_ascii_lowercase()
}

fn classify_host(host: &str, a: &Addressing) -> HostKind {
    if let Some(bucket) = a.domains.get(host) {
        return HostKind::Bucket(bucket.clone());
    }
    if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() || host == "localhost" {
        return HostKind::Bare;
    }
    let labels: Vec<&str> = host.split('.').collect();
    if let Some(kind) = classify_oss_host(&labels) {
        return kind;
    }
    if let Some(kind) = classify_s3_host(&labels, a) {
        return kind;
    }
    // H5: service endpoints.
    let is_service = matches!(
        host,
        "service.cos.myqcloud.com" | "service.cos.tencentcos.cn"
    ) || a.service_hosts.iter().any(|s| s == host)
        || a.base_domains.iter().any(|b| b == host)
        || (labels.len() == 4
            && labels[0] == "cos"
            && ((labels[2] == "myqcloud" && labels[3] == "com")
                || (labels[2] == "tencentcos" && labels[3] == "cn")));
    if is_service {
        return HostKind::Service;
    }
    // H1: configured base domains.
    for base in &a.base_domains {
        if let Some(prefix) = host
            .strip_suffix(base.as_str())
            .and_then(|p| p.strip_suffix('.'))
        {
            if !prefix.contains('.') && !prefix.is_empty() {
                return HostKind::Bucket(prefix.to_string());
            }
        }
    }
    // H1: built-in suffixes.
    let n = labels.len();
    let builtin = match labels.as_slice() {
        [b, "cos", _region, "myqcloud", "com"] => Some(*b),
        [b, "cos", _region, "tencentcos", "cn"] => Some(*b),
        [b, "cos-internal", _region, "tencentcos", "cn"] => Some(*b),
        [b, _region, "myqcloud", "com"] => Some(*b),
        _ => None,
    };
    if let Some(b) = builtin {
        return HostKind::Bucket(b.to_string());
    }
    // Fallback: `<name>-<appid>.<anything>` with at least three labels (NOTES 6).
    if n >= 3
        && has_appid_suffix(labels[0])
        && labels[0]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return HostKind::Bucket(labels[0].to_string());
    }
    HostKind::Bare
}

/// OSS endpoints (oss.md §3): `<bucket>.oss-<region>[-internal].<domain>`
/// is a bucket (ali-oss sends `<bucket>.oss-<region>.aliyuncs.com` even to an
/// IP endpoint); `oss-<region>.aliyuncs.com` and `oss-<region>.localhost`
/// serve the service (path style below them).
fn classify_oss_host(labels: &[&str]) -> Option<HostKind> {
    let oss_endpoint = |label: &str| label.len() > 4 && label.starts_with("oss-");
    match labels {
        [b, endpoint, _, ..] if oss_endpoint(endpoint) => Some(HostKind::OssBucket(b.to_string())),
        [endpoint, "aliyuncs", "com"] | [endpoint, "localhost"] if oss_endpoint(endpoint) => {
            Some(HostKind::Service)
        }
        _ => None,
    }
}

/// S3 endpoints (spec s3.md §4): `s3.amazonaws.com`, `s3.<region>.amazonaws.com`,
/// `s3-<region>.amazonaws.com` and, for every configured base domain `d`,
/// `s3.<d>` and `s3.<region>.<d>` serve the service (path style below them);
/// the same names with a bucket label in front are virtual-hosted buckets.
/// `<bucket>.localhost` is virtual-hosted too (what SDKs build from an
/// endpoint `http://localhost:PORT` in virtual style).
fn classify_s3_host(labels: &[&str], a: &Addressing) -> Option<HostKind> {
    if let [b, "localhost"] = labels {
        return Some(HostKind::Bucket((*b).to_string()));
    }
    // The endpoint part after an optional bucket label.
    let is_s3_endpoint = |l: &[&str]| -> bool {
        let is_s3_label = |s: &str| s == "s3" || (s.starts_with("s3-") && s.len() > 3);
        let Some((first, rest)) = l.split_first() else {
            return false;
        };
        if !is_s3_label(first) {
            return false;
        }
        let domain_of = |r: &[&str]| r.join(".");
        let known = |d: &str| d == "amazonaws.com" || a.base_domains.iter().any(|b| b == d);
        // s3.<d> | s3-<region>.<d> | s3.<region>.<d>
        known(&domain_of(rest))
            || (*first == "s3" && rest.len() > 1 && known(&domain_of(&rest[1..])))
    };
    if is_s3_endpoint(labels) {
        return Some(HostKind::Service);
    }
    if labels.len() > 2 && is_s3_endpoint(&labels[1..]) && !labels[0].is_empty() {
        return Some(HostKind::Bucket(labels[0].to_string()));
    }
    None
}

/// Resolves the target of a COS request. `host` is the absolute-form
/// authority or the Host header (port allowed); `path` is percent-decoded.
pub fn resolve(host: &str, path: &str, a: &Addressing) -> Result<Target, Error> {
    resolve_for(host, path, a, Family::Cos)
}

/// Resolves the target of a request in a family's bucket-name convention
/// ([`BucketName::parse_for`]).
pub fn resolve_for(
    host: &str,
    path: &str,
    a: &Addressing,
    family: Family,
) -> Result<Target, Error> {
    let host = host_without_port(host);
    let kind = classify_host(&host, a);
    let rest = path.strip_prefix('/').unwrap_or(path);
    let object_or_bucket = |bucket: &str, key: &str| -> Result<Target, Error> {
        let bucket = BucketName::parse_for(bucket, a, family)?;
        if key.is_empty() {
            Ok(Target::Bucket(bucket))
        } else {
            Ok(Target::Object(bucket, ObjectKey::parse(key)?))
        }
    };
    match kind {
        HostKind::Bucket(b) => object_or_bucket(&b, rest),
        HostKind::OssBucket(b) => {
            // sldEnable: `/<bucket>/<key>` on a host that already names the bucket.
            let key = match rest.split_once('/') {
                Some((first, key)) if first == b => key,
                _ => rest,
            };
            object_or_bucket(&b, key)
        }
        HostKind::Service | HostKind::Bare if path.starts_with("/-/") || path == "/-" => {
            Ok(Target::Reserved(path.to_string()))
        }
        HostKind::Service => {
            if rest.is_empty() {
                Ok(Target::Service)
            } else {
                path_style(rest, a, family)
            }
        }
        HostKind::Bare => match &a.default_bucket {
            Some(b) => object_or_bucket(b, rest),
            None if rest.is_empty() => Ok(Target::Service),
            None => path_style(rest, a, family),
        },
    }
}

/// The bucket a static-website endpoint names (cos-bucket.md §5), from a
/// host without port in lower case: `<bucket>.cos-website.<region>.myqcloud.com`
/// (also `.tencentcos.cn`), and under each configured base domain `d`
/// `<bucket>.cos-website.<region>.<d>` and `<bucket>.cos-website.<d>`.
/// Recognised before the `<name>-<appid>` fallback (NOTES 6).
pub fn website_bucket(host: &str, a: &Addressing) -> Option<String> {
    let labels: Vec<&str> = host.split('.').collect();
    let bucket_label = |b: &str| -> Option<String> {
        let ok = !b.is_empty()
            && b.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        ok.then(|| b.to_string())
    };
    match labels.as_slice() {
        [b, "cos-website", _region, "myqcloud", "com"]
        | [b, "cos-website", _region, "tencentcos", "cn"] => return bucket_label(b),
        _ => {}
    }
    for base in &a.base_domains {
        let Some(prefix) = host
            .strip_suffix(base.as_str())
            .and_then(|p| p.strip_suffix('.'))
        else {
            continue;
        };
        match prefix.split('.').collect::<Vec<_>>().as_slice() {
            [b, "cos-website"] | [b, "cos-website", _] => return bucket_label(b),
            _ => {}
        }
    }
    None
}

/// The target of a request on a host already known to name `bucket` (a
/// custom domain): `/` is the bucket, anything else a key.
pub fn resolve_in(
    bucket: &str,
    path: &str,
    a: &Addressing,
    family: Family,
) -> Result<Target, Error> {
    let bucket = BucketName::parse_for(bucket, a, family)?;
    let key = path.strip_prefix('/').unwrap_or(path);
    if key.is_empty() {
        Ok(Target::Bucket(bucket))
    } else {
        Ok(Target::Object(bucket, ObjectKey::parse(key)?))
    }
}

/// H3: `/<bucket>[/<key>]`. A `.` or `..` bucket segment is refused (NOTES 2).
fn path_style(rest: &str, a: &Addressing, family: Family) -> Result<Target, Error> {
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket = BucketName::parse_for(bucket, a, family)?;
    if key.is_empty() {
        Ok(Target::Bucket(bucket))
    } else {
        Ok(Target::Object(bucket, ObjectKey::parse(key)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addressing() -> Addressing {
        Addressing {
            appid: "1250000000".into(),
            region: "ap-guangzhou".into(),
            base_domains: vec!["cos.local".into()],
            service_hosts: vec![],
            domains: [(
                "files.example.com".to_string(),
                "mapped-1250000000".to_string(),
            )]
            .into(),
            default_bucket: None,
        }
    }

    fn obj(b: &str, k: &str) -> Target {
        Target::Object(BucketName(b.into()), ObjectKey(k.into()))
    }

    #[test]
    fn resolve_table() {
        let a = addressing();
        let eb = "examplebucket-1250000000";
        let cases: Vec<(&str, &str, Target)> = vec![
            (
                "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com",
                "/a/b.txt",
                obj(eb, "a/b.txt"),
            ),
            (
                "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com:9000",
                "/",
                Target::Bucket(BucketName(eb.into())),
            ),
            (
                "examplebucket-1250000000.cos.ap-beijing.tencentcos.cn",
                "/k",
                obj(eb, "k"),
            ),
            (
                "examplebucket-1250000000.cos-internal.ap-beijing.tencentcos.cn",
                "/k",
                obj(eb, "k"),
            ),
            (
                "examplebucket-1250000000.cos.accelerate.myqcloud.com",
                "/k",
                obj(eb, "k"),
            ),
            (
                "examplebucket-1250000000.ap-guangzhou.myqcloud.com",
                "/k",
                obj(eb, "k"),
            ),
            ("examplebucket.cos.local", "/k", obj(eb, "k")),
            ("examplebucket-1250000000.example.org", "/k", obj(eb, "k")),
            ("files.example.com", "/k", obj("mapped-1250000000", "k")),
            ("service.cos.myqcloud.com", "/", Target::Service),
            ("cos.ap-guangzhou.myqcloud.com", "/", Target::Service),
            ("127.0.0.1:9000", "/", Target::Service),
            (
                "localhost:9000",
                "/examplebucket-1250000000/x/y",
                obj(eb, "x/y"),
            ),
            (
                "127.0.0.1",
                "/examplebucket",
                Target::Bucket(BucketName(eb.into())),
            ),
            (
                "localcos-1:9000",
                "/-/health/live",
                Target::Reserved("/-/health/live".into()),
            ),
            (
                "127.0.0.1",
                "/-/metrics",
                Target::Reserved("/-/metrics".into()),
            ),
            // On a bucket host `/-/x` is just a key.
            (
                "examplebucket.cos.local",
                "/-/health/live",
                obj(eb, "-/health/live"),
            ),
            // Keys are never normalised.
            (
                "examplebucket.cos.local",
                "/../../etc/passwd",
                obj(eb, "../../etc/passwd"),
            ),
            ("examplebucket.cos.local", "/a//b", obj(eb, "a//b")),
        ];
        for (host, path, want) in cases {
            assert_eq!(resolve(host, path, &a).unwrap(), want, "{host} {path}");
        }
    }

    #[test]
    fn s3_hosts_and_exact_names() {
        let a = addressing();
        let s3 = |host: &str, path: &str| resolve_for(host, path, &a, Family::S3).unwrap();
        let exact = |b: &str, k: &str| Target::Object(BucketName(b.into()), ObjectKey(k.into()));
        for (host, path, want) in [
            ("s3.amazonaws.com", "/", Target::Service),
            ("s3.us-east-1.amazonaws.com", "/", Target::Service),
            ("s3.cos.local:9000", "/", Target::Service),
            (
                "s3.ap-guangzhou.cos.local",
                "/mybucket/k",
                exact("mybucket", "k"),
            ),
            (
                "mybucket.s3.amazonaws.com",
                "/a/b",
                exact("mybucket", "a/b"),
            ),
            (
                "mybucket.s3.us-east-1.amazonaws.com",
                "/k",
                exact("mybucket", "k"),
            ),
            (
                "mybucket.s3-eu-west-1.amazonaws.com",
                "/k",
                exact("mybucket", "k"),
            ),
            (
                "mybucket.s3.ap-guangzhou.cos.local:9000",
                "/k",
                exact("mybucket", "k"),
            ),
            ("mybucket.localhost:9000", "/k", exact("mybucket", "k")),
            // A bucket named like a legacy `s3-<region>` endpoint label.
            ("s3-photos.s3.amazonaws.com", "/k", exact("s3-photos", "k")),
            (
                "s3-photos.s3.us-east-1.amazonaws.com",
                "/k",
                exact("s3-photos", "k"),
            ),
            ("127.0.0.1:9000", "/mybucket/k", exact("mybucket", "k")),
            (
                "127.0.0.1:9000",
                "/examplebucket-1250000000/k",
                exact("examplebucket-1250000000", "k"),
            ),
            ("mybucket", "/", Target::Service),
        ] {
            assert_eq!(s3(host, path), want, "{host} {path}");
        }
        // The same hosts through COS complete the name with the APPID.
        assert_eq!(
            resolve("mybucket.s3.amazonaws.com", "/k", &a).unwrap(),
            obj("mybucket-1250000000", "k")
        );
        // S3 names: 1..=63, COS characters.
        assert_eq!(
            BucketName::parse_exact(&"a".repeat(64)).unwrap_err().code,
            ErrorCode::BucketNameTooLong
        );
        for bad in ["", "Upper", "a.b", "-a", "a-", "a_b"] {
            assert_eq!(
                BucketName::parse_exact(bad).unwrap_err().code,
                ErrorCode::InvalidBucketName,
                "{bad}"
            );
        }
    }

    #[test]
    fn oss_hosts_and_names_as_given() {
        let a = addressing();
        let oss = |host: &str, path: &str| resolve_for(host, path, &a, Family::Oss);
        let o = |b: &str, k: &str| obj(b, k);
        let cases: Vec<(&str, &str, Target)> = vec![
            // Path style on an IP: the name is used as given.
            (
                "127.0.0.1:9000",
                "/examplebucket/a/b",
                o("examplebucket", "a/b"),
            ),
            (
                "127.0.0.1:9000",
                "/eb-1250000000/k",
                o("eb-1250000000", "k"),
            ),
            (
                "examplebucket.oss-cn-hangzhou.aliyuncs.com",
                "/dir/a+b.txt",
                o("examplebucket", "dir/a+b.txt"),
            ),
            // ali-oss sldEnable: the bucket again as the first path segment.
            (
                "examplebucket.oss-cn-hangzhou.aliyuncs.com",
                "/examplebucket/dir/x",
                o("examplebucket", "dir/x"),
            ),
            (
                "examplebucket.oss-cn-hangzhou-internal.aliyuncs.com",
                "/k",
                o("examplebucket", "k"),
            ),
            (
                "examplebucket.oss-cn-hangzhou.localhost:9000",
                "/k",
                o("examplebucket", "k"),
            ),
            (
                "examplebucket.localhost:9000",
                "/k",
                o("examplebucket", "k"),
            ),
            (
                "oss-cn-hangzhou.aliyuncs.com",
                "/examplebucket/k",
                o("examplebucket", "k"),
            ),
            ("oss-cn-hangzhou.aliyuncs.com", "/", Target::Service),
            ("oss-cn-hangzhou.localhost:9000", "/", Target::Service),
            (
                "127.0.0.1",
                "/examplebucket",
                Target::Bucket(BucketName("examplebucket".into())),
            ),
        ];
        for (host, path, want) in cases {
            assert_eq!(oss(host, path).unwrap(), want, "{host} {path}");
        }
        for bad in ["/Bad/k", "/-abc/k"] {
            assert_eq!(
                oss("127.0.0.1", bad).unwrap_err().code,
                ErrorCode::InvalidBucketName,
                "{bad}"
            );
        }
        // A COS bucket whose name starts with `oss-` is still a COS bucket.
        assert_eq!(
            resolve("oss-x-1250000000.cos.ap-guangzhou.myqcloud.com", "/k", &a).unwrap(),
            o("oss-x-1250000000", "k")
        );
        // The same OSS host read by a COS request gets the APPID suffix.
        assert_eq!(
            resolve("examplebucket.oss-cn-hangzhou.aliyuncs.com", "/k", &a).unwrap(),
            o("examplebucket-1250000000", "k")
        );
    }

    #[test]
    fn default_bucket_and_reserved() {
        let mut a = addressing();
        a.default_bucket = Some("dflt-1250000000".into());
        assert_eq!(
            resolve("127.0.0.1:9000", "/k", &a).unwrap(),
            obj("dflt-1250000000", "k")
        );
        assert_eq!(
            resolve("127.0.0.1:9000", "/-/health/ready", &a).unwrap(),
            Target::Reserved("/-/health/ready".into())
        );
    }

    #[test]
    fn bad_names() {
        let a = addressing();
        for (host, path, code) in [
            ("127.0.0.1", "/../etc", ErrorCode::InvalidBucketName),
            ("127.0.0.1", "/./x", ErrorCode::InvalidBucketName),
            ("127.0.0.1", "/Bad_Name/x", ErrorCode::InvalidBucketName),
            ("127.0.0.1", "/-bad/x", ErrorCode::InvalidBucketName),
            (
                "127.0.0.1",
                "/averyveryveryverylongbucketname/x",
                ErrorCode::BucketNameTooLong,
            ),
        ] {
            assert_eq!(resolve(host, path, &a).unwrap_err().code, code, "{path}");
        }
        let long = format!("/b/{}", "k".repeat(851));
        assert_eq!(
            resolve("127.0.0.1", &long, &a).unwrap_err().code,
            ErrorCode::KeyTooLong
        );
        assert_eq!(
            resolve("127.0.0.1", "/b/a\u{0}b", &a).unwrap_err().code,
            ErrorCode::InvalidObjectName
        );
        assert!(resolve("127.0.0.1", &format!("/b/{}", "k".repeat(850)), &a).is_ok());
    }

    #[test]
    fn website_hosts() {
        let a = addressing();
        let cases = [
            (
                "eb-1250000000.cos-website.ap-guangzhou.myqcloud.com",
                Some("eb-1250000000"),
            ),
            (
                "eb-1250000000.cos-website.ap-guangzhou.tencentcos.cn",
                Some("eb-1250000000"),
            ),
            ("eb.cos-website.ap-guangzhou.cos.local", Some("eb")),
            ("eb-1250000000.cos-website.cos.local", Some("eb-1250000000")),
            ("eb-1250000000.cos.ap-guangzhou.myqcloud.com", None),
            ("eb-1250000000.cos.local", None),
            ("cos-website.ap-guangzhou.myqcloud.com", None),
            ("a.b.cos-website.cos.local", None),
            ("files.example.com", None),
        ];
        for (host, want) in cases {
            assert_eq!(website_bucket(host, &a).as_deref(), want, "{host}");
        }
        assert_eq!(
            resolve_in("mapped-1250000000", "/a/b", &a, Family::Cos).unwrap(),
            obj("mapped-1250000000", "a/b")
        );
        assert_eq!(
            resolve_in("mapped", "/", &a, Family::Cos).unwrap(),
            Target::Bucket(BucketName("mapped-1250000000".into()))
        );
    }
}
