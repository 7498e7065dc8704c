//! (method, target, query, copy-source) → [`Operation`]. Pure: no I/O.
//!
//! Sub-resources that later issues implement (`?uploads`, `?cors`, …)
//! answer 501 NotImplemented until they land, never a silent fallback to a
//! plain object operation.

use http::{HeaderMap, Method};

use crate::bucket_config::Subresource;
use crate::error::{Error, ErrorCode, Result};
use crate::http::header;
use crate::http::query::Query;
use crate::http::target::{BucketName, ObjectKey, Target};

/// One COS API operation with its URL parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    ListBuckets,
    CreateBucket(BucketName),
    HeadBucket(BucketName),
    DeleteBucket(BucketName),
    ListObjects(BucketName),
    /// `GET /?list-type=2` (S3 ListObjectsV2).
    ListObjectsV2(BucketName),
    /// `GET /?location`.
    GetBucketLocation(BucketName),
    DeleteObjects(BucketName),
    GetBucketVersioning(BucketName),
    PutBucketVersioning(BucketName),
    ListObjectVersions(BucketName),
    PutObject(BucketName, ObjectKey),
    /// `POST /<key>?append&position=N`.
    AppendObject(BucketName, ObjectKey),
    CopyObject(BucketName, ObjectKey),
    GetObject(BucketName, ObjectKey),
    HeadObject(BucketName, ObjectKey),
    DeleteObject(BucketName, ObjectKey),
    RestoreObject(BucketName, ObjectKey),
    GetBucketAcl(BucketName),
    PutBucketAcl(BucketName),
    GetObjectAcl(BucketName, ObjectKey),
    PutObjectAcl(BucketName, ObjectKey),
    GetObjectTagging(BucketName, ObjectKey),
    PutObjectTagging(BucketName, ObjectKey),
    DeleteObjectTagging(BucketName, ObjectKey),
    GetObjectRetention(BucketName, ObjectKey),
    PutObjectRetention(BucketName, ObjectKey),
    GetSymlink(BucketName, ObjectKey),
    PutSymlink(BucketName, ObjectKey),
    /// `GET /?uploads`.
    ListMultipartUploads(BucketName),
    /// `GET /?<sub-resource>` of a stored bucket configuration.
    GetBucketConfig(BucketName, Subresource),
    /// `PUT /?<sub-resource>`.
    PutBucketConfig(BucketName, Subresource),
    /// `DELETE /?<sub-resource>`.
    DeleteBucketConfig(BucketName, Subresource),
    /// `POST /<key>?uploads`.
    InitiateMultipartUpload(BucketName, ObjectKey),
    /// `PUT /<key>?partNumber&uploadId`.
    UploadPart(BucketName, ObjectKey),
    /// `PUT /<key>?partNumber&uploadId` with `x-cos-copy-source`.
    UploadPartCopy(BucketName, ObjectKey),
    /// `POST /<key>?uploadId`.
    CompleteMultipartUpload(BucketName, ObjectKey),
    /// `DELETE /<key>?uploadId`.
    AbortMultipartUpload(BucketName, ObjectKey),
    /// `GET /<key>?uploadId`.
    ListParts(BucketName, ObjectKey),
    /// `POST /` with a multipart/form-data body (browser form upload).
    PostObject(BucketName),
}

impl Operation {
    /// A stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::ListBuckets => "ListBuckets",
            Operation::CreateBucket(_) => "CreateBucket",
            Operation::HeadBucket(_) => "HeadBucket",
            Operation::DeleteBucket(_) => "DeleteBucket",
            Operation::ListObjects(_) => "ListObjects",
            Operation::ListObjectsV2(_) => "ListObjectsV2",
            Operation::GetBucketLocation(_) => "GetBucketLocation",
            Operation::DeleteObjects(_) => "DeleteObjects",
            Operation::GetBucketVersioning(_) => "GetBucketVersioning",
            Operation::PutBucketVersioning(_) => "PutBucketVersioning",
            Operation::ListObjectVersions(_) => "ListObjectVersions",
            Operation::PutObject(..) => "PutObject",
            Operation::AppendObject(..) => "AppendObject",
            Operation::CopyObject(..) => "CopyObject",
            Operation::GetObject(..) => "GetObject",
            Operation::HeadObject(..) => "HeadObject",
            Operation::DeleteObject(..) => "DeleteObject",
            Operation::RestoreObject(..) => "RestoreObject",
            Operation::GetBucketAcl(_) => "GetBucketAcl",
            Operation::PutBucketAcl(_) => "PutBucketAcl",
            Operation::GetObjectAcl(..) => "GetObjectAcl",
            Operation::PutObjectAcl(..) => "PutObjectAcl",
            Operation::GetObjectTagging(..) => "GetObjectTagging",
            Operation::PutObjectTagging(..) => "PutObjectTagging",
            Operation::DeleteObjectTagging(..) => "DeleteObjectTagging",
            Operation::GetObjectRetention(..) => "GetObjectRetention",
            Operation::PutObjectRetention(..) => "PutObjectRetention",
            Operation::GetSymlink(..) => "GetSymlink",
            Operation::PutSymlink(..) => "PutSymlink",
            Operation::ListMultipartUploads(_) => "ListMultipartUploads",
            // Stable names per sub-resource would need one variant each;
            // the label goes to logs with the operation.
            Operation::GetBucketConfig(..) => "GetBucketConfig",
            Operation::PutBucketConfig(..) => "PutBucketConfig",
            Operation::DeleteBucketConfig(..) => "DeleteBucketConfig",
            Operation::InitiateMultipartUpload(..) => "InitiateMultipartUpload",
            Operation::UploadPart(..) => "UploadPart",
            Operation::UploadPartCopy(..) => "UploadPartCopy",
            Operation::CompleteMultipartUpload(..) => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload(..) => "AbortMultipartUpload",
            Operation::ListParts(..) => "ListParts",
            Operation::PostObject(_) => "PostObject",
        }
    }
}

/// Query names that select a sub-resource (an API of its own), as COS lists them.
const SUB_RESOURCES: &[&str] = &[
    "acl",
    "accelerate",
    "append",
    "cors",
    "delete",
    "domain",
    "domaincertificate",
    "encryption",
    "intelligent-tiering",
    "intelligenttiering",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "object-lock",
    "origin",
    "partNumber",
    "policy",
    "referer",
    "replication",
    "restore",
    "select",
    "tagging",
    "uploadId",
    "uploads",
    "versioning",
    "versions",
    "website",
    "ci-process",
    "symlink",
    "retention",
    "torrent",
];

fn sub_resource(q: &Query) -> Option<&str> {
    q.pairs()
        .iter()
        .map(|(k, _)| k.as_str())
        .find(|k| SUB_RESOURCES.contains(k))
}

fn not_implemented(what: &str) -> Error {
    Error::with_message(
        ErrorCode::NotImplemented,
        format!("`{what}` is not implemented by this localcos version."),
    )
}

fn method_not_allowed() -> Error {
    Error::new(ErrorCode::MethodNotAllowed)
}

/// A combination no operation matches: an API method on a sub-resource that
/// is not implemented yet (501), anything else 405.
fn unsupported(method: &Method, sub: Option<&str>) -> Error {
    const API_METHODS: [Method; 5] = [
        Method::GET,
        Method::PUT,
        Method::POST,
        Method::DELETE,
        Method::HEAD,
    ];
    match sub {
        Some(sub) if API_METHODS.contains(method) => not_implemented(&format!("{method} ?{sub}")),
        _ => method_not_allowed(),
    }
}

/// Maps a request onto an operation. `Target::Reserved` never reaches here.
pub fn resolve(method: &Method, target: &Target, q: &Query, h: &HeaderMap) -> Result<Operation> {
    match target {
        Target::Service => match *method {
            Method::GET => Ok(Operation::ListBuckets),
            _ => Err(method_not_allowed()),
        },
        Target::Reserved(p) => Err(Error::with_message(
            ErrorCode::NoSuchResource,
            format!("No such endpoint {p}"),
        )),
        Target::Bucket(b) => {
            let b = b.clone();
            match (method.clone(), sub_resource(q)) {
                (Method::PUT, None) => Ok(Operation::CreateBucket(b)),
                (Method::HEAD, None) => Ok(Operation::HeadBucket(b)),
                (Method::DELETE, None) => Ok(Operation::DeleteBucket(b)),
                (Method::GET, None) if q.get("list-type") == Some("2") => {
                    Ok(Operation::ListObjectsV2(b))
                }
                (Method::GET, None) => Ok(Operation::ListObjects(b)),
                (Method::GET, Some("location")) => Ok(Operation::GetBucketLocation(b)),
                (Method::POST, Some("delete")) => Ok(Operation::DeleteObjects(b)),
                (Method::GET, Some("versioning")) => Ok(Operation::GetBucketVersioning(b)),
                (Method::PUT, Some("versioning")) => Ok(Operation::PutBucketVersioning(b)),
                (Method::GET, Some("versions")) => Ok(Operation::ListObjectVersions(b)),
                (Method::GET, Some("acl")) => Ok(Operation::GetBucketAcl(b)),
                (Method::PUT, Some("acl")) => Ok(Operation::PutBucketAcl(b)),
                (Method::GET, Some("uploads")) => Ok(Operation::ListMultipartUploads(b)),
                (m, Some(word)) if Subresource::from_query(word).is_some() => {
                    let sub = Subresource::from_query(word).expect("checked");
                    match m {
                        Method::GET => Ok(Operation::GetBucketConfig(b, sub)),
                        Method::PUT => Ok(Operation::PutBucketConfig(b, sub)),
                        Method::DELETE => Ok(Operation::DeleteBucketConfig(b, sub)),
                        _ => Err(method_not_allowed()),
                    }
                }
                (Method::POST, None) => Ok(Operation::PostObject(b)),
                (m, sub) => Err(unsupported(&m, sub)),
            }
        }
        Target::Object(b, k) => {
            let (b, k) = (b.clone(), k.clone());
            // `partNumber` and `uploadId` come in either order.
            let upload = q.get("uploadId").is_some();
            let copy = header::get(h, header::X_COS_COPY_SOURCE).is_some();
            match (method.clone(), sub_resource(q)) {
                (Method::POST, Some("uploads")) => Ok(Operation::InitiateMultipartUpload(b, k)),
                (Method::PUT, Some("partNumber" | "uploadId"))
                    if upload && q.get("partNumber").is_some() =>
                {
                    if copy {
                        Ok(Operation::UploadPartCopy(b, k))
                    } else {
                        Ok(Operation::UploadPart(b, k))
                    }
                }
                (Method::POST, Some("uploadId")) => Ok(Operation::CompleteMultipartUpload(b, k)),
                (Method::DELETE, Some("uploadId")) => Ok(Operation::AbortMultipartUpload(b, k)),
                (Method::GET, Some("uploadId")) => Ok(Operation::ListParts(b, k)),
                (Method::PUT, None) if copy => Ok(Operation::CopyObject(b, k)),
                (Method::PUT, None) => Ok(Operation::PutObject(b, k)),
                (Method::GET, None) => Ok(Operation::GetObject(b, k)),
                (Method::HEAD, None) => Ok(Operation::HeadObject(b, k)),
                (Method::DELETE, None) => Ok(Operation::DeleteObject(b, k)),
                (Method::POST, Some("restore")) => Ok(Operation::RestoreObject(b, k)),
                (Method::POST, Some("append")) => Ok(Operation::AppendObject(b, k)),
                // Original image protection: a plain GET with a flag the
                // handler checks (bucket_settings.rs); other CI processes are not here.
                (Method::GET, Some("ci-process"))
                    if q.get("ci-process") == Some(crate::bucket_settings::ORIGIN_IMAGE) =>
                {
                    Ok(Operation::GetObject(b, k))
                }
                (Method::GET, Some("acl")) => Ok(Operation::GetObjectAcl(b, k)),
                (Method::PUT, Some("acl")) => Ok(Operation::PutObjectAcl(b, k)),
                (Method::GET, Some("tagging")) => Ok(Operation::GetObjectTagging(b, k)),
                (Method::PUT, Some("tagging")) => Ok(Operation::PutObjectTagging(b, k)),
                (Method::DELETE, Some("tagging")) => Ok(Operation::DeleteObjectTagging(b, k)),
                (Method::GET, Some("retention")) => Ok(Operation::GetObjectRetention(b, k)),
                (Method::PUT, Some("retention")) => Ok(Operation::PutObjectRetention(b, k)),
                (Method::GET, Some("symlink")) => Ok(Operation::GetSymlink(b, k)),
                (Method::PUT, Some("symlink")) => Ok(Operation::PutSymlink(b, k)),
                (m, sub) => Err(unsupported(&m, sub)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::target::{BucketName, ObjectKey};

    fn b() -> Target {
        Target::Bucket(BucketName::parse("b", "1250000000", "ap-guangzhou").unwrap())
    }
    fn o() -> Target {
        let bn = BucketName::parse("b", "1250000000", "ap-guangzhou").unwrap();
        Target::Object(bn, ObjectKey::parse("k").unwrap())
    }

    #[test]
    fn route_table() {
        let none = HeaderMap::new();
        let mut copy = HeaderMap::new();
        copy.insert(
            "x-cos-copy-source",
            "b-1250000000.cos.ap-guangzhou.myqcloud.com/x"
                .parse()
                .unwrap(),
        );
        let q = |s: &str| Query::parse(Some(s)).unwrap();
        let cases: Vec<(Method, Target, &str, &HeaderMap, &str)> = vec![
            (Method::GET, Target::Service, "", &none, "ListBuckets"),
            (Method::PUT, b(), "", &none, "CreateBucket"),
            (Method::HEAD, b(), "", &none, "HeadBucket"),
            (Method::DELETE, b(), "", &none, "DeleteBucket"),
            (
                Method::GET,
                b(),
                "prefix=&delimiter=&marker=&max-keys=1000&encoding-type=url",
                &none,
                "ListObjects",
            ),
            (
                Method::GET,
                b(),
                "list-type=2&prefix=&encoding-type=url",
                &none,
                "ListObjectsV2",
            ),
            (Method::GET, b(), "location", &none, "GetBucketLocation"),
            (Method::POST, b(), "delete", &none, "DeleteObjects"),
            (Method::POST, b(), "", &none, "PostObject"),
            (Method::GET, b(), "versioning", &none, "GetBucketVersioning"),
            (Method::PUT, b(), "versioning=", &none, "PutBucketVersioning"),
            (
                Method::GET,
                b(),
                "versions&prefix=&delimiter=&key-marker=&version-id-marker=&max-keys=1000&encoding-type=url",
                &none,
                "ListObjectVersions",
            ),
            (Method::GET, o(), "versionId=MTg0NDUxNTc1NjIzMTQ1MDAwODg", &none, "GetObject"),
            (Method::DELETE, o(), "versionId=null", &none, "DeleteObject"),
            (Method::PUT, o(), "", &none, "PutObject"),
            (Method::PUT, o(), "", &copy, "CopyObject"),
            (
                Method::GET,
                o(),
                "response-content-type=text/plain",
                &none,
                "GetObject",
            ),
            (Method::HEAD, o(), "versionId=null", &none, "HeadObject"),
            (Method::DELETE, o(), "", &none, "DeleteObject"),
            (Method::POST, o(), "restore", &none, "RestoreObject"),
            (Method::POST, o(), "append&position=0", &none, "AppendObject"),
            (Method::POST, o(), "append=&position=7", &none, "AppendObject"),
            (Method::POST, o(), "position=7&append", &none, "AppendObject"),
            (
                Method::POST,
                o(),
                "restore&versionId=x",
                &none,
                "RestoreObject",
            ),
            (
                Method::GET,
                o(),
                "ci-process=originImage",
                &none,
                "GetObject",
            ),
            (Method::GET, b(), "acl", &none, "GetBucketAcl"),
            (Method::PUT, b(), "acl", &none, "PutBucketAcl"),
            (Method::GET, o(), "acl", &none, "GetObjectAcl"),
            (
                Method::PUT,
                o(),
                "acl&versionId=null",
                &none,
                "PutObjectAcl",
            ),
            (Method::PUT, o(), "acl", &copy, "PutObjectAcl"),
            (Method::GET, o(), "tagging", &none, "GetObjectTagging"),
            (
                Method::PUT,
                o(),
                "tagging&versionId=v1",
                &none,
                "PutObjectTagging",
            ),
            (Method::DELETE, o(), "tagging", &none, "DeleteObjectTagging"),
            (Method::GET, o(), "retention", &none, "GetObjectRetention"),
            (Method::PUT, o(), "retention=", &none, "PutObjectRetention"),
            (Method::GET, o(), "symlink=&versionId=v1", &none, "GetSymlink"),
            (Method::PUT, o(), "symlink", &none, "PutSymlink"),
            (Method::GET, b(), "object-lock=", &none, "GetBucketConfig"),
            (Method::DELETE, b(), "object-lock", &none, "DeleteBucketConfig"),
        ];
        for (m, t, qs, h, want) in cases {
            assert_eq!(resolve(&m, &t, &q(qs), h).unwrap().name(), want, "{m} {qs}");
        }
        assert_eq!(
            resolve(&Method::GET, &b(), &q("select"), &none)
                .unwrap_err()
                .code,
            ErrorCode::NotImplemented
        );
        assert_eq!(
            resolve(&Method::GET, &b(), &q("cors"), &none).unwrap(),
            Operation::GetBucketConfig(
                BucketName::parse("b", "1250000000", "ap-guangzhou").unwrap(),
                Subresource::Cors
            )
        );
        assert_eq!(
            resolve(&Method::POST, &b(), &q("cors"), &none)
                .unwrap_err()
                .code,
            ErrorCode::MethodNotAllowed
        );
        for (m, qs) in [
            (Method::GET, "ci-process=imageInfo"),
            (Method::HEAD, "ci-process=originImage"),
            (Method::GET, "restore"),
        ] {
            assert_eq!(
                resolve(&m, &o(), &q(qs), &none).unwrap_err().code,
                ErrorCode::NotImplemented,
                "{m} {qs}"
            );
        }
        assert_eq!(
            resolve(&Method::DELETE, &b(), &q("versioning"), &none)
                .unwrap_err()
                .code,
            ErrorCode::NotImplemented
        );
        assert_eq!(
            resolve(&Method::PATCH, &o(), &q(""), &none)
                .unwrap_err()
                .code,
            ErrorCode::MethodNotAllowed
        );
        assert_eq!(
            resolve(&Method::PUT, &Target::Service, &q(""), &none)
                .unwrap_err()
                .code,
            ErrorCode::MethodNotAllowed
        );
    }
}
