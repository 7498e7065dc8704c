//! The one error table, the one mapping point and the one renderer.
//!
//! Every COS error code localcos emits has one row in [`ErrorCode`]'s table:
//! its HTTP status and default message (COS error-code list, 436/7730,
//! spec cos.md §4.6 and §6A.1). Lower layers keep their own small error enums
//! (`StorageError`, `AuthError`); the `From` impls at the bottom of this file
//! are the only place they become API errors, and `Error::into_response` is
//! the only function that renders an error body.

use http::{HeaderValue, Method, StatusCode};

use crate::auth::{AuthError, Family};
use crate::http::aws_chunked::ChunkError;
use crate::http::payload::PayloadError;
use crate::render::headers::ResponseBuilder;
use crate::render::xml;
use crate::storage::StorageError;

macro_rules! error_codes {
    ($( $variant:ident => ($status:expr, $message:expr) ),* $(,)?) => {
        /// A COS error code. `as_str()` is the `<Code>` text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $( $variant ),* }

        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => stringify!($variant) ),* }
            }
            pub fn status(self) -> StatusCode {
                match self { $( ErrorCode::$variant => $status ),* }
            }
            pub fn default_message(self) -> &'static str {
                match self { $( ErrorCode::$variant => $message ),* }
            }
        }
    };
}

error_codes! {
    // 400
    AuthorizationHeaderMalformed => (StatusCode::BAD_REQUEST, "The authorization header is malformed."),
    AuthorizationQueryParametersError => (StatusCode::BAD_REQUEST, "Error parsing the X-Amz-Credential parameter."),
    BadDigest => (StatusCode::BAD_REQUEST, "The Content-MD5 you specified did not match what was received."),
    BucketNameTooLong => (StatusCode::BAD_REQUEST, "The bucket name is too long."),
    EntityTooLarge => (StatusCode::BAD_REQUEST, "Your proposed upload exceeds the maximum allowed object size."),
    EntityTooSmall => (StatusCode::BAD_REQUEST, "Your proposed upload is smaller than the minimum allowed object size."),
    InvalidPart => (StatusCode::BAD_REQUEST, "One or more of the specified parts could not be found, or its ETag did not match."),
    InvalidPartOrder => (StatusCode::BAD_REQUEST, "The list of parts was not in ascending order."),
    ExpiredToken => (StatusCode::BAD_REQUEST, "The provided token has expired."),
    IncompleteBody => (StatusCode::BAD_REQUEST, "You did not provide the number of bytes specified by the Content-Length HTTP header."),
    InvalidArgument => (StatusCode::BAD_REQUEST, "Invalid Argument."),
    InvalidBucketName => (StatusCode::BAD_REQUEST, "The specified bucket is not valid."),
    InvalidCopySource => (StatusCode::BAD_REQUEST, "The copy source is not valid."),
    InvalidDigest => (StatusCode::BAD_REQUEST, "The Content-MD5 you specified is not valid."),
    InvalidLocationConstraint => (StatusCode::BAD_REQUEST, "The specified location constraint is not valid."),
    InvalidObjectName => (StatusCode::BAD_REQUEST, "The specified object name is not valid."),
    InvalidRequest => (StatusCode::BAD_REQUEST, "The request is not valid."),
    InvalidSHA1Digest => (StatusCode::BAD_REQUEST, "The x-cos-content-sha1 you specified did not match what was received."),
    InvalidTag => (StatusCode::BAD_REQUEST, "The tag set you provided is not valid."),
    InvalidTargetBucketForLogging => (StatusCode::BAD_REQUEST, "The target bucket for logging does not exist or is not owned by you."),
    InvalidURI => (StatusCode::BAD_REQUEST, "Couldn't parse the specified URI."),
    KeyTooLong => (StatusCode::BAD_REQUEST, "Your key is too long."),
    // POST Object (cos.md §6A.6)
    IncorrectNumberOfFilesInPostRequest => (StatusCode::BAD_REQUEST, "POST requires exactly one file upload per request."),
    InvalidPolicyDocument => (StatusCode::BAD_REQUEST, "Invalid Policy: Invalid JSON."),
    MalformedPOSTRequest => (StatusCode::BAD_REQUEST, "The body of your POST request is not well-formed multipart/form-data."),
    MaxPostPreDataLengthExceededError => (StatusCode::BAD_REQUEST, "Your POST request fields preceding the upload file were too large."),
    MalformedPolicy => (StatusCode::BAD_REQUEST, "The policy document is not valid."),
    MalformedXML => (StatusCode::BAD_REQUEST, "The XML you provided was not well-formed or did not validate against our published schema."),
    MissingRequestBodyError => (StatusCode::BAD_REQUEST, "Request body is empty."),
    RequestTimeout => (StatusCode::BAD_REQUEST, "Your socket connection to the server was not read from or written to within the timeout period."),
    RequestHeaderSectionTooLarge => (StatusCode::BAD_REQUEST, "Your request header section exceeds the maximum allowed size."),
    // SSE (spec cos.md §5)
    KmsKeyDisabled => (StatusCode::BAD_REQUEST, "The specified KMS key is disabled."),
    KmsKeyNotExist => (StatusCode::BAD_REQUEST, "The specified KMS key does not exist."),
    SSEContentNotSupported => (StatusCode::BAD_REQUEST, "The specified server-side encryption is not supported."),
    SSEHeaderNotAllowed => (StatusCode::BAD_REQUEST, "Server-side encryption headers are not allowed for this request."),
    SsecDecryptHeaderInvalid => (StatusCode::BAD_REQUEST, "The object is encrypted with a customer-provided key; the SSE-C headers are missing or invalid."),
    XAmzContentSHA256Mismatch => (StatusCode::BAD_REQUEST, "The provided 'x-amz-content-sha256' header does not match what was computed."),
    UnexpectedContent => (StatusCode::BAD_REQUEST, "This request does not support content."),
    XMLSizeLimit => (StatusCode::BAD_REQUEST, "The XML you provided was larger than the maximum allowed size."),
    TooManyConfigurations => (StatusCode::BAD_REQUEST, "You are attempting to create a new configuration but have already reached the limit."),
    // 403
    AccessDenied => (StatusCode::FORBIDDEN, "Access Denied."),
    AccessForbidden => (StatusCode::FORBIDDEN, "CORSResponse: This CORS request is not allowed."),
    InvalidObjectState => (StatusCode::FORBIDDEN, "The operation is not valid for the object's storage class."),
    InvalidAccessKeyId => (StatusCode::FORBIDDEN, "The SecretId you provided does not exist in our records."),
    RequestTimeTooSkewed => (StatusCode::FORBIDDEN, "The difference between the request time and the server's time is too large."),
    SignatureDoesNotMatch => (StatusCode::FORBIDDEN, "The request signature we calculated does not match the signature you provided. Check your key and signing method."),
    // 404
    NoSuchBucket => (StatusCode::NOT_FOUND, "The specified bucket does not exist."),
    NoSuchPolicy => (StatusCode::NOT_FOUND, "The bucket policy does not exist."),
    NoSuchKey => (StatusCode::NOT_FOUND, "The specified key does not exist."),
    NoSuchResource => (StatusCode::NOT_FOUND, "The specified resource does not exist."),
    NoSuchCopySource => (StatusCode::NOT_FOUND, "The specified copy source does not exist."),
    NoSuchCORSConfiguration => (StatusCode::NOT_FOUND, "The CORS configuration does not exist."),
    NoSuchTagSet => (StatusCode::NOT_FOUND, "The TagSet does not exist."),
    NoSuchEncryptionConfiguration => (StatusCode::NOT_FOUND, "The server side encryption configuration was not found."),
    NoSuchLifecycleConfiguration => (StatusCode::NOT_FOUND, "The lifecycle configuration does not exist."),
    NoSuchConfiguration => (StatusCode::NOT_FOUND, "The specified configuration does not exist."),
    NoSuchInventoryConfiguration => (StatusCode::NOT_FOUND, "The specified inventory configuration does not exist."),
    ObjectLockConfigurationNotFoundError => (StatusCode::NOT_FOUND, "Object lock configuration does not exist for this bucket."),
    NoSuchObjectLockConfiguration => (StatusCode::NOT_FOUND, "The object version has no retention."),
    NoSuchOriginConfiguration => (StatusCode::NOT_FOUND, "The origin configuration does not exist."),
    NoSuchUpload => (StatusCode::NOT_FOUND, "The specified multipart upload does not exist."),
    NoSuchVersion => (StatusCode::NOT_FOUND, "The specified version does not exist."),
    // The SDKs' spelling, lower-case "not" included (cos-bucket.md §0.3).
    ReplicationConfigurationnotFoundError => (StatusCode::NOT_FOUND, "The replication configuration was not found."),
    // website / domain lane (cos-bucket.md §5, §10)
    DomainConfigNotFoundError => (StatusCode::NOT_FOUND, "The domain configuration does not exist."),
    NoSuchCertificate => (StatusCode::NOT_FOUND, "The specified domain has no certificate."),
    NoSuchWebsiteConfiguration => (StatusCode::NOT_FOUND, "The specified bucket does not have a website configuration."),
    // 405
    MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "The specified method is not allowed against this resource."),
    RestoreNonArchiveObject => (StatusCode::METHOD_NOT_ALLOWED, "The object is not in the ARCHIVE or DEEP_ARCHIVE storage class; only archived objects can be restored."),
    // 409
    AppendPositionErr => (StatusCode::CONFLICT, "The position of the append request does not match the length of the object."),
    ObjectNotAppendable => (StatusCode::CONFLICT, "The operation is not valid for the object's current state: it is not appendable."),
    ObjectLocked => (StatusCode::CONFLICT, "The object is protected by object lock (WORM) and cannot be deleted or overwritten within its retention period."),
    BucketAlreadyExists => (StatusCode::CONFLICT, "The requested bucket name is not available."),
    BucketAlreadyOwnedByYou => (StatusCode::CONFLICT, "Your previous request to create the named bucket succeeded and you already own it."),
    BucketNotEmpty => (StatusCode::CONFLICT, "The bucket you tried to delete is not empty."),
    DuplicateInventoryId => (StatusCode::CONFLICT, "An inventory job with this id already ran today."),
    FileAlreadyExists => (StatusCode::CONFLICT, "The object already exists and x-cos-forbid-overwrite is true."),
    RestoreAlreadyInProgress => (StatusCode::CONFLICT, "Object restore is already in progress."),
    RecordAlreadyExist => (StatusCode::CONFLICT, "The domain is already bound to another bucket."),
    // localcos admin API (`localcos keys add`)
    SecretIdAlreadyExists => (StatusCode::CONFLICT, "A key with this SecretId already exists."),
    // 411, 412, 416
    MissingContentLength => (StatusCode::LENGTH_REQUIRED, "You must provide the Content-Length HTTP header."),
    PreconditionFailed => (StatusCode::PRECONDITION_FAILED, "At least one of the preconditions you specified did not hold."),
    InvalidRange => (StatusCode::RANGE_NOT_SATISFIABLE, "The requested range is not satisfiable."),
    // 5xx
    InternalError => (StatusCode::INTERNAL_SERVER_ERROR, "We encountered an internal error. Please try again."),
    NotImplemented => (StatusCode::NOT_IMPLEMENTED, "A header you provided implies functionality that is not implemented."),
    ServiceUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "Please reduce your request rate."),
    SlowDown => (StatusCode::SERVICE_UNAVAILABLE, "Please reduce your request rate."),
}

/// An API error: a code, an optional specific message and extra response
/// headers (e.g. `Content-Range: bytes */N` on a 416).
#[derive(Debug)]
pub struct Error {
    pub code: ErrorCode,
    pub message: Option<String>,
    pub headers: Vec<(&'static str, HeaderValue)>,
    /// Extra elements for the S3 error body, in order (e.g. `StringToSign`,
    /// `CanonicalRequest`, `SignatureProvided`, `AWSAccessKeyId` on an AWS
    /// SignatureDoesNotMatch). The COS body never shows them.
    pub extra: Vec<(&'static str, String)>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode) -> Self {
        Error {
            code,
            message: None,
            headers: Vec::new(),
            extra: Vec::new(),
        }
    }

    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: Some(message.into()),
            headers: Vec::new(),
            extra: Vec::new(),
        }
    }

    pub fn header(mut self, name: &'static str, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn message(&self) -> &str {
        self.message
            .as_deref()
            .unwrap_or_else(|| self.code.default_message())
    }

    /// The `<Code>` and status a family's clients expect for this error.
    /// COS and S3 share most codes; where they differ the S3/OSS code wins
    /// for those clients (spec s3.md §5–6, oss.md §4): a failed
    /// `If-None-Match: *` write is S3's 412 PreconditionFailed, a missing
    /// copy source is NoSuchKey.
    pub fn wire_code(&self, family: Family) -> (&'static str, StatusCode) {
        let code = self.code;
        match (family, code) {
            (Family::S3, ErrorCode::FileAlreadyExists) => (
                ErrorCode::PreconditionFailed.as_str(),
                StatusCode::PRECONDITION_FAILED,
            ),
            (Family::S3 | Family::Oss, ErrorCode::NoSuchCopySource) => {
                (ErrorCode::NoSuchKey.as_str(), StatusCode::NOT_FOUND)
            }
            // OSS AppendObject's name for a position mismatch.
            (Family::Oss, ErrorCode::AppendPositionErr) => {
                ("PositionNotEqualToLength", StatusCode::CONFLICT)
            }
            (Family::S3 | Family::Oss, ErrorCode::BucketNameTooLong) => (
                ErrorCode::InvalidBucketName.as_str(),
                StatusCode::BAD_REQUEST,
            ),
            _ => (code.as_str(), code.status()),
        }
    }

    /// The message for a family: COS's own wording, except where an S3/OSS
    /// client would read something else (an explicit message always wins).
    fn wire_message(&self, family: Family) -> &str {
        if let Some(m) = &self.message {
            return m;
        }
        match (family, self.code) {
            (Family::S3, ErrorCode::InvalidAccessKeyId) => {
                "The AWS Access Key Id you provided does not exist in our records."
            }
            (Family::Oss, ErrorCode::InvalidAccessKeyId) => {
                "The OSS Access Key Id you provided does not exist in our records."
            }
            (Family::S3, ErrorCode::FileAlreadyExists) => {
                ErrorCode::PreconditionFailed.default_message()
            }
            (Family::S3 | Family::Oss, ErrorCode::NoSuchCopySource) => {
                ErrorCode::NoSuchKey.default_message()
            }
            _ => self.code.default_message(),
        }
    }

    /// Renders the error in the request's family: COS XML
    /// (`Code, Message, Resource, RequestId, TraceId`), S3 XML (`Code,
    /// Message, Resource, RequestId, HostId`) or OSS XML (`Code, Message,
    /// RequestId, HostId`). `resource` is never empty (the COS Python SDK
    /// rejects an empty `<Resource/>`); for OSS it is the host. HEAD errors
    /// carry the status and headers only.
    pub fn into_response(
        self,
        method: &Method,
        resource: &str,
        request_id: &str,
        family: Family,
    ) -> http::Response<crate::http::body::Body> {
        let (code, status) = self.wire_code(family);
        let mut rb = ResponseBuilder::new(status);
        for (name, value) in self.headers.iter() {
            rb = rb.header_value(name, value.clone());
        }
        let resource = if resource.is_empty() { "/" } else { resource };
        let message = self.wire_message(family);
        if let Some(ec) = xml::oss_ec(code).filter(|_| family == Family::Oss) {
            rb = rb.header_value("x-oss-ec", HeaderValue::from_static(ec));
        }
        if method == Method::HEAD {
            // OSS hands HEAD errors over in `x-oss-err`: the error document,
            // base64-encoded (oss2 and alibabacloud-oss-v2 read it there).
            if family == Family::Oss {
                use base64::Engine as _;
                let doc = xml::error_body_oss(code, message, &self.extra, resource, request_id);
                let b64 = base64::engine::general_purpose::STANDARD.encode(doc);
                if let Ok(v) = HeaderValue::from_str(&b64) {
                    rb = rb.header_value("x-oss-err", v);
                }
            }
            return rb.content_length(0).empty();
        }
        let body = match family {
            Family::Cos => xml::error_body(code, message, resource, request_id),
            Family::S3 => xml::error_body_s3(code, message, &self.extra, resource, request_id),
            Family::Oss => xml::error_body_oss(code, message, &self.extra, resource, request_id),
        };
        rb.xml(body)
    }
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Self {
        Error::new(code)
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NoSuchBucket => Error::new(ErrorCode::NoSuchBucket),
            StorageError::NoSuchKey => Error::new(ErrorCode::NoSuchKey),
            StorageError::BucketExists => Error::new(ErrorCode::BucketAlreadyOwnedByYou),
            StorageError::BucketNotEmpty => Error::new(ErrorCode::BucketNotEmpty),
            StorageError::PreconditionFailed => Error::new(ErrorCode::PreconditionFailed),
            StorageError::AlreadyExists => Error::new(ErrorCode::FileAlreadyExists),
            StorageError::BadDigest => Error::new(ErrorCode::BadDigest),
            StorageError::BadSha1 => Error::new(ErrorCode::InvalidSHA1Digest),
            StorageError::IncompleteBody => Error::new(ErrorCode::IncompleteBody),
            StorageError::TooLarge => Error::new(ErrorCode::EntityTooLarge),
            StorageError::Client(msg) => Error::with_message(ErrorCode::IncompleteBody, msg),
            StorageError::ClientTimeout => Error::new(ErrorCode::RequestTimeout),
            StorageError::DeleteMarker { version_id } => delete_marker_error(&version_id),
            StorageError::NoSuchVersion => Error::new(ErrorCode::NoSuchVersion),
            StorageError::NoSuchUpload => Error::new(ErrorCode::NoSuchUpload),
            StorageError::Complete(e) => complete_error(e),
            StorageError::Conflict => Error::with_message(
                ErrorCode::ServiceUnavailable,
                "concurrent modification, please retry",
            ),
            // Spec cos.md §6A.3: the error tells the length to append at.
            StorageError::AppendPosition { next } => Error::new(ErrorCode::AppendPositionErr)
                .header("x-cos-next-append-position", HeaderValue::from(next)),
            StorageError::NotAppendable => Error::new(ErrorCode::ObjectNotAppendable),
            StorageError::ObjectLocked => Error::new(ErrorCode::ObjectLocked),
            StorageError::AppendLimit => Error::with_message(
                ErrorCode::ObjectNotAppendable,
                format!(
                    "The object has reached the maximum of {} appends.",
                    crate::storage::append::MAX_APPENDS
                ),
            ),
            StorageError::Io(e) => {
                tracing::error!(error = %e, "storage I/O error");
                Error::new(ErrorCode::InternalError)
            }
            StorageError::Corrupt(msg) => {
                tracing::error!(error = %msg, "storage corruption");
                Error::new(ErrorCode::InternalError)
            }
            // An object scrub or fsck marked damaged: never its bytes
            // (README "Integrity: scrub and fsck").
            StorageError::ObjectCorrupt(reason) => {
                tracing::warn!(reason = %reason, "refused to serve an object marked corrupt");
                Error::with_message(
                    ErrorCode::InternalError,
                    crate::storage::scrub::CORRUPT_MESSAGE,
                )
            }
            StorageError::Format(msg) => {
                tracing::error!(error = %msg, "data dir format");
                Error::new(ErrorCode::InternalError)
            }
            // Cluster mode: the database is down or slow; fail fast, the
            // node recovers by itself when it returns.
            StorageError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "metadata store unavailable");
                Error::with_message(
                    ErrorCode::ServiceUnavailable,
                    "The metadata store is temporarily unavailable, please retry.",
                )
            }
            StorageError::BlobUnavailable(msg) => {
                tracing::warn!(error = %msg, "blob store unavailable");
                Error::with_message(
                    ErrorCode::ServiceUnavailable,
                    "The blob store is temporarily unavailable, please retry.",
                )
            }
        }
    }
}

impl From<PayloadError> for Error {
    fn from(e: PayloadError) -> Self {
        match e {
            PayloadError::Sha256Mismatch { expected, computed } => {
                let mut err = Error::new(ErrorCode::XAmzContentSHA256Mismatch);
                err.extra = vec![
                    ("ClientComputedContentSHA256", expected),
                    ("S3ComputedContentSHA256", computed),
                ];
                err
            }
            PayloadError::ChecksumMismatch(_) => {
                Error::with_message(ErrorCode::BadDigest, e.to_string())
            }
            PayloadError::Chunked(ChunkError::Signature(_)) => {
                Error::new(ErrorCode::SignatureDoesNotMatch)
            }
            PayloadError::Chunked(ChunkError::Truncated) | PayloadError::DecodedLength { .. } => {
                Error::with_message(ErrorCode::IncompleteBody, e.to_string())
            }
            PayloadError::Chunked(ChunkError::Framing(msg)) => {
                Error::with_message(ErrorCode::InvalidRequest, msg)
            }
        }
    }
}

/// GET/HEAD whose latest (or named) version is a delete marker: 404
/// NoSuchKey with the marker's headers (spec cos.md §6 "Versioning"; Node
/// surfaces `x-cos-delete-marker` as `DeleteMarker`).
/// A refused Complete part list (spec cos.md §6A.5).
fn complete_error(e: crate::storage::multipart::CompleteError) -> Error {
    use crate::storage::multipart::CompleteError;
    match e {
        CompleteError::Empty => Error::with_message(
            ErrorCode::MalformedXML,
            "The Complete request lists no part.",
        ),
        CompleteError::Order => Error::new(ErrorCode::InvalidPartOrder),
        CompleteError::InvalidPart(n) => Error::with_message(
            ErrorCode::InvalidPart,
            format!(
                "Part {n} was not uploaded, its ETag does not match, or the part numbers are not contiguous."
            ),
        ),
        CompleteError::TooSmall(n, min) => Error::with_message(
            ErrorCode::EntityTooSmall,
            format!(
                "Part {n} is smaller than the {} minimum for a part that is not the last.",
                human_size(min)
            ),
        ),
        CompleteError::TooLarge => Error::with_message(
            ErrorCode::EntityTooLarge,
            "The object would exceed the 50,000 GiB maximum.",
        ),
    }
}

/// `1 MiB`, `100 KiB`, or bytes when not a whole number of either.
fn human_size(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

fn delete_marker_error(version_id: &str) -> Error {
    let err = Error::new(ErrorCode::NoSuchKey)
        .header("x-cos-delete-marker", HeaderValue::from_static("true"));
    match HeaderValue::from_str(version_id) {
        Ok(v) => err.header("x-cos-version-id", v),
        Err(_) => err,
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Malformed(msg) => Error::with_message(ErrorCode::AccessDenied, msg),
            AuthError::Expired => {
                Error::with_message(ErrorCode::AccessDenied, "Request has expired")
            }
            AuthError::NotYetValid => Error::new(ErrorCode::RequestTimeTooSkewed),
            AuthError::UnknownKey => Error::new(ErrorCode::InvalidAccessKeyId),
            AuthError::TokenMismatch => Error::with_message(
                ErrorCode::InvalidAccessKeyId,
                "The security token does not match the SecretId.",
            ),
            AuthError::TokenExpired => Error::new(ErrorCode::ExpiredToken),
            AuthError::SignatureMismatch => Error::new(ErrorCode::SignatureDoesNotMatch),
            AuthError::SignatureDoesNotMatch(d) => {
                let mut e = Error::new(ErrorCode::SignatureDoesNotMatch);
                e.extra = vec![
                    ("AWSAccessKeyId", d.access_key),
                    ("StringToSign", d.string_to_sign),
                    ("SignatureProvided", d.signature_provided),
                    ("CanonicalRequest", d.canonical_request),
                ];
                e
            }
            AuthError::HeaderMalformed(msg) => {
                Error::with_message(ErrorCode::AuthorizationHeaderMalformed, msg)
            }
            AuthError::QueryMalformed(msg) => {
                Error::with_message(ErrorCode::AuthorizationQueryParametersError, msg)
            }
            AuthError::TooSkewed => Error::new(ErrorCode::RequestTimeTooSkewed),
            AuthError::InvalidArgument(msg) => Error::with_message(ErrorCode::InvalidArgument, msg),
            AuthError::InvalidRequest(msg) => Error::with_message(ErrorCode::InvalidRequest, msg),
        }
    }
}
