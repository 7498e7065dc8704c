//! `multipart/form-data` bodies of POST Object (browser form upload, spec
//! cos.md §1.9, §6A.6; s3.md §1.4): the small fields before `file` are read
//! into memory (capped), the `file` part is handed on as a stream, and
//! anything after it is ignored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::HeaderMap;

use crate::error::{Error, ErrorCode, Result};
use crate::storage::{ByteStream, StorageError};

/// The fields before `file` may total at most this many bytes (names and
/// values); S3 answers MaxPostPreDataLengthExceededError past 20 KB.
pub const MAX_FIELDS_BYTES: usize = 20 * 1024;

/// A form whose fields before `file` have been read.
pub struct PostForm {
    /// Fields in the order sent, names as sent.
    pub fields: Vec<(String, String)>,
    /// The `filename` of the file part (what `${filename}` stands for).
    pub filename: String,
    /// Set when the file part turned out not to be well-formed multipart.
    malformed: Arc<AtomicBool>,
}

impl PostForm {
    pub fn new(fields: Vec<(String, String)>, filename: String) -> PostForm {
        PostForm {
            fields,
            filename,
            malformed: Arc::default(),
        }
    }

    /// Whether the file stream failed because the multipart framing was bad
    /// (rather than the client's connection).
    pub fn malformed(&self) -> bool {
        self.malformed.load(Ordering::Relaxed)
    }

    /// The first value of a field; names compare case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for PostForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may hold signatures and tokens: names only.
        let names: Vec<&str> = self.fields.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("PostForm")
            .field("fields", &names)
            .field("filename", &self.filename)
            .finish()
    }
}

/// The boundary of a `multipart/form-data` request, `None` for any other body.
pub fn boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    multer::parse_boundary(ct).ok()
}

pub fn malformed() -> Error {
    Error::with_message(
        ErrorCode::MalformedPOSTRequest,
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

/// Reads the fields up to the `file` part and returns them with the file's
/// bytes as a stream (which ends where the part ends; the stream fails if the
/// body is cut or malformed, so a broken upload never commits).
/// # Behavior
/// - no `file` part → 400 IncorrectNumberOfFilesInPostRequest;
/// - fields before it over [`MAX_FIELDS_BYTES`] → 400 MaxPostPreDataLengthExceededError;
/// - unparsable multipart → 400 MalformedPOSTRequest; a failing or
///   stalled client body keeps its own error (`StorageError`).
pub async fn read_head(boundary: &str, body: ByteStream) -> Result<(PostForm, ByteStream)> {
    let mut multipart = multer::Multipart::new(body, boundary);
    let mut fields = Vec::new();
    let mut total = 0usize;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Err(Error::with_message(
                    ErrorCode::IncorrectNumberOfFilesInPostRequest,
                    "POST requires exactly one file upload per request.",
                ))
            }
            Err(e) => return Err(read_error(e)),
        };
        let name = field.name().unwrap_or("").to_string();
        if name.eq_ignore_ascii_case("file") {
            let form = PostForm::new(fields, field.file_name().unwrap_or("").to_string());
            let flag = form.malformed.clone();
            // `multipart` owns the parser state the field reads through.
            let file = futures_util::stream::unfold(
                (field, multipart, false),
                move |(mut field, multipart, failed)| {
                    let flag = flag.clone();
                    async move {
                        if failed {
                            return None;
                        }
                        match field.chunk().await {
                            Ok(Some(chunk)) => Some((Ok(chunk), (field, multipart, false))),
                            Ok(None) => {
                                drain_fields(multipart).await;
                                None
                            }
                            Err(e) => {
                                if !matches!(e, multer::Error::StreamReadFailed(_)) {
                                    flag.store(true, Ordering::Relaxed);
                                }
                                Some((Err(storage_error(e)), (field, multipart, true)))
                            }
                        }
                    }
                },
            );
            return Ok((form, Box::pin(file)));
        }
        total += name.len();
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(read_error)? {
            total += chunk.len();
            if total > MAX_FIELDS_BYTES {
                return Err(Error::with_message(
                    ErrorCode::MaxPostPreDataLengthExceededError,
                    "Your POST request fields preceding the upload file were too large.",
                ));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| malformed())?;
        fields.push((name, value));
    }
}

/// What follows the file part is read (and ignored) up to this many bytes,
/// so the client sees the answer instead of a reset connection.
const MAX_TAIL_BYTES: usize = 64 * 1024;

/// Reads the parts after `file` (ignored, spec cos.md §6A.6) to the end of
/// the body, up to [`MAX_TAIL_BYTES`].
async fn drain_fields(mut multipart: multer::Multipart<'static>) {
    let mut seen = 0;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(chunk)) = field.chunk().await {
            seen += chunk.len();
            if seen > MAX_TAIL_BYTES {
                return;
            }
        }
    }
}

/// Reads and discards up to `limit` bytes of a body that will not be used:
/// a request answered before its body was read would otherwise be cut by a
/// TCP reset (unread data on close), losing the error response.
pub async fn drain(body: &mut ByteStream, limit: u64) {
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = futures_util::StreamExt::next(body).await {
        seen += chunk.len() as u64;
        if seen > limit {
            return;
        }
    }
}

/// A client body failure keeps its own error; anything else is the form's fault.
fn read_error(e: multer::Error) -> Error {
    match storage_error(e) {
        StorageError::Client(_) => malformed(),
        other => other.into(),
    }
}

fn storage_error(e: multer::Error) -> StorageError {
    match e {
        multer::Error::StreamReadFailed(inner) => match inner.downcast::<StorageError>() {
            Ok(se) => *se,
            Err(other) => StorageError::Client(other.to_string()),
        },
        other => StorageError::Client(format!("malformed multipart/form-data: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::StreamExt;

    fn stream(body: &'static [u8], split: usize) -> ByteStream {
        let parts: Vec<Result<Bytes, StorageError>> = body
            .chunks(split)
            .map(|c| Ok(Bytes::from_static(c)))
            .collect();
        Box::pin(futures_util::stream::iter(parts))
    }

    async fn collect(mut s: ByteStream) -> Result<Vec<u8>, StorageError> {
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    const FORM: &[u8] = b"--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\na/${filename}\r\n--XX\r\nContent-Disposition: form-data; name=\"Content-Type\"\r\n\r\ntext/plain\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"\r\nContent-Type: image/png\r\n\r\nhello\r\n--X-\r\n--world\r\n--XX\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--XX--\r\n";

    #[tokio::test]
    async fn fields_then_streamed_file_at_any_split() {
        for split in [1, 2, 7, 64, FORM.len()] {
            let (form, file) = read_head("XX", stream(FORM, split)).await.unwrap();
            assert_eq!(form.get("KEY"), Some("a/${filename}"), "{split}");
            assert_eq!(form.get("content-type"), Some("text/plain"));
            assert_eq!(form.filename, "x.txt");
            assert_eq!(form.fields.len(), 2);
            assert_eq!(collect(file).await.unwrap(), b"hello\r\n--X-\r\n--world");
        }
    }

    #[tokio::test]
    async fn errors() {
        let no_file: &[u8] =
            b"--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XX--\r\n";
        let e = read_head("XX", stream(no_file, 5)).await.err().unwrap();
        assert_eq!(e.code, ErrorCode::IncorrectNumberOfFilesInPostRequest);

        let e = read_head("XX", stream(b"garbage", 5)).await.err().unwrap();
        assert_eq!(e.code, ErrorCode::MalformedPOSTRequest, "{e:?}");

        let big: &'static [u8] = Box::leak(
            format!(
                "--XX\r\nContent-Disposition: form-data; name=\"x-cos-meta-a\"\r\n\r\n{}\r\n--XX--\r\n",
                "a".repeat(MAX_FIELDS_BYTES)
            )
            .into_bytes()
            .into_boxed_slice(),
        );
        let e = read_head("XX", stream(big, 1000)).await.err().unwrap();
        assert_eq!(e.code, ErrorCode::MaxPostPreDataLengthExceededError);

        // A file part cut before its closing boundary fails instead of ending.
        let cut: &[u8] = b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nhello wor";
        let (_, file) = read_head("XX", stream(cut, 4)).await.unwrap();
        assert!(collect(file).await.is_err());

        // A client timeout keeps its own error.
        let failing: ByteStream = Box::pin(futures_util::stream::iter(vec![
            Ok(Bytes::from_static(
                b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nab",
            )),
            Err(StorageError::ClientTimeout),
        ]));
        match read_head("XX", failing).await {
            Ok((_, file)) => assert!(matches!(
                collect(file).await,
                Err(StorageError::ClientTimeout)
            )),
            Err(e) => assert_eq!(e.code, ErrorCode::RequestTimeout),
        }
    }

    #[test]
    fn boundary_only_for_form_data() {
        let mut h = HeaderMap::new();
        assert_eq!(boundary(&h), None);
        h.insert(
            "content-type",
            "multipart/form-data; boundary=----abc".parse().unwrap(),
        );
        assert_eq!(boundary(&h).as_deref(), Some("----abc"));
        h.insert("content-type", "application/xml".parse().unwrap());
        assert_eq!(boundary(&h), None);
        h.insert(
            "content-type",
            "multipart/mixed; boundary=a".parse().unwrap(),
        );
        assert_eq!(boundary(&h), None);
    }
}
