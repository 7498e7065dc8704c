//! `--blob-store`: where a cluster keeps its blobs. A directory shared by
//! every node (NFS, CephFS; `FsBlobs` over it) or an S3-compatible bucket
//! (`s3://BUCKET/PREFIX`, with `--blob-endpoint URL` and the standard AWS
//! credential variables).

use std::path::PathBuf;
use std::sync::Arc;

use super::{BlobStore, StorageError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSpec {
    /// A shared directory.
    Dir(PathBuf),
    /// An S3-compatible bucket; `prefix` is empty or ends without `/`.
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
    },
}

impl BlobSpec {
    /// Parses `--blob-store` (and `--blob-endpoint`).
    /// # Behavior
    /// - `s3://BUCKET[/PREFIX]`: S3 (the prefix without surrounding `/`);
    ///   anything else is a directory path (`file://` stripped).
    /// - An empty spec, an `s3://` without bucket, or an endpoint that is
    ///   not http(s) is an error; an endpoint with a directory is an error.
    pub fn parse(spec: &str, endpoint: Option<&str>) -> Result<BlobSpec, String> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err("--blob-store: empty".into());
        }
        if let Some(endpoint) = endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(format!(
                    "--blob-endpoint: `{endpoint}` must be an http:// or https:// URL"
                ));
            }
        }
        if let Some(rest) = spec.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!(
                    "--blob-store: `{spec}` names no bucket (s3://BUCKET/PREFIX)"
                ));
            }
            return Ok(BlobSpec::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
                endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
            });
        }
        if spec.contains("://") && !spec.starts_with("file://") {
            return Err(format!(
                "--blob-store: `{spec}`: a directory or s3://BUCKET/PREFIX"
            ));
        }
        if endpoint.is_some() {
            return Err("--blob-endpoint applies to an s3:// blob store only".into());
        }
        let path = spec.strip_prefix("file://").unwrap_or(spec);
        Ok(BlobSpec::Dir(PathBuf::from(path)))
    }

    /// Opens the blob store (a shared directory: [`super::fs::FsBlobs::open_shared`]).
    pub async fn open(&self) -> Result<Arc<dyn BlobStore>, StorageError> {
        match self {
            BlobSpec::Dir(dir) => {
                std::fs::create_dir_all(dir)?;
                Ok(Arc::new(super::fs::FsBlobs::open_shared(dir)?))
            }
            BlobSpec::S3 {
                bucket,
                prefix,
                endpoint,
            } => Ok(Arc::new(
                super::s3::S3Blobs::open(bucket, prefix, endpoint.as_deref()).await?,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_cases() {
        let s3 = |b: &str, p: &str, e: Option<&str>| BlobSpec::S3 {
            bucket: b.into(),
            prefix: p.into(),
            endpoint: e.map(String::from),
        };
        let ok: &[(&str, Option<&str>, BlobSpec)] = &[
            ("/srv/blobs", None, BlobSpec::Dir("/srv/blobs".into())),
            (
                "file:///srv/blobs",
                None,
                BlobSpec::Dir("/srv/blobs".into()),
            ),
            ("rel/dir", None, BlobSpec::Dir("rel/dir".into())),
            ("s3://b", None, s3("b", "", None)),
            ("s3://b/", None, s3("b", "", None)),
            ("s3://b/p/q/", None, s3("b", "p/q", None)),
            (
                "s3://b/p",
                Some("http://127.0.0.1:8333/"),
                s3("b", "p", Some("http://127.0.0.1:8333")),
            ),
        ];
        for (spec, ep, want) in ok {
            assert_eq!(BlobSpec::parse(spec, *ep).as_ref(), Ok(want), "{spec}");
        }
        for (spec, ep) in [
            ("", None),
            ("  ", None),
            ("s3://", None),
            ("s3:///p", None),
            ("http://x/y", None),
            ("/dir", Some("http://e")),
            ("s3://b", Some("ftp://e")),
        ] {
            assert!(BlobSpec::parse(spec, ep).is_err(), "{spec} {ep:?}");
        }
    }
}
