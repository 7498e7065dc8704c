//! PUT / HEAD / DELETE Bucket:
//! https://cloud.tencent.com/document/product/436/7738 (PUT),
//! /7735 (HEAD), /7732 (DELETE).

use http::StatusCode;

use super::{AppState, Req, Response};
use crate::acl::{Acl, AclKind};
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::read_limited;
use crate::http::target::BucketName;
use crate::render::headers::ResponseBuilder;
use crate::render::xml::{self, CreateBucketConfiguration};
use crate::storage::{BucketLayout, BucketRecord, StorageError};

/// Largest XML document accepted in a request body.
pub const MAX_XML_BODY: usize = 64 * 1024;

pub async fn create(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let acl = Acl::from_headers(&req.headers, AclKind::Bucket)?;
    // An optional <CreateBucketConfiguration> (MAZ / OFS); an empty body is fine.
    let body = read_limited(req.body, MAX_XML_BODY)
        .await
        .map_err(|e| match e {
            None => Error::new(ErrorCode::XMLSizeLimit),
            Some(e) => Error::from(e),
        })?;
    let config = if body.iter().all(u8::is_ascii_whitespace) {
        CreateBucketConfiguration::default()
    } else {
        xml::parse::<CreateBucketConfiguration>(&body)
            .ok_or_else(|| Error::new(ErrorCode::MalformedXML))?
    };
    let rec = BucketRecord {
        name: bucket.as_str().to_string(),
        region: bucket_region(
            config.location_constraint.as_deref(),
            &state.config.addressing.region,
        )?,
        created_ms: now_ms(),
        versioning: Default::default(),
        acl,
        configs: Default::default(),
        layout: layout(&config)?,
    };
    match state.store.create_bucket(rec).await {
        Ok(()) => Ok(ResponseBuilder::new(StatusCode::OK)
            .content_length(0)
            .empty()),
        Err(StorageError::BucketExists) => Err(Error::new(ErrorCode::BucketAlreadyOwnedByYou)),
        Err(e) => Err(e.into()),
    }
}

/// The region a new bucket records. COS takes it from the endpoint (the
/// configured region). S3 clients name it in `<LocationConstraint>` (absent
/// for us-east-1, s3.md §5); any well-formed region is accepted and kept, so
/// GetBucketLocation and `x-amz-bucket-region` answer what the client asked
/// for, as tools such as Terraform check.
fn bucket_region(constraint: Option<&str>, configured: &str) -> Result<String> {
    match constraint.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(configured.to_string()),
        Some(c)
            if c.len() <= 64
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Ok(c.to_string())
        }
        Some(c) => Err(Error::with_message(
            ErrorCode::InvalidLocationConstraint,
            format!("The specified location-constraint `{c}` is not valid."),
        )),
    }
}

/// The layout `<CreateBucketConfiguration>` asks for: `BucketAZConfig`
/// `MAZ` and `BucketArchConfig` `OFS` (the only values COS defines; an
/// empty element means the default), anything else 400 InvalidArgument.
fn layout(config: &CreateBucketConfiguration) -> Result<BucketLayout> {
    fn flag(value: Option<&str>, element: &str, only: &str) -> Result<bool> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case(only) => Ok(true),
            Some(v) => Err(Error::with_message(
                ErrorCode::InvalidArgument,
                format!("{element} `{v}` is not valid: the only value is {only}."),
            )),
        }
    }
    Ok(BucketLayout {
        maz: flag(config.az.as_deref(), "BucketAZConfig", "MAZ")?,
        ofs: flag(config.arch.as_deref(), "BucketArchConfig", "OFS")?,
    })
}

/// GET Bucket location (`GET /?location`).
pub async fn location(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let Some(rec) = state.store.bucket(bucket.as_str()).await? else {
        return Err(Error::new(ErrorCode::NoSuchBucket));
    };
    Ok(ResponseBuilder::new(StatusCode::OK).xml(xml::location(&rec.region, req.family)))
}

pub async fn head(state: &AppState, bucket: &BucketName) -> Result<Response> {
    let Some(rec) = state.store.bucket(bucket.as_str()).await? else {
        return Err(Error::new(ErrorCode::NoSuchBucket));
    };
    // `x-cos-bucket-region` always (cos-python-sdk-v5's get_bucket_meta
    // indexes it unconditionally), the layout when it is not the default.
    let mut rb = ResponseBuilder::new(StatusCode::OK).header("x-cos-bucket-region", &rec.region);
    if rec.layout.maz {
        rb = rb.header("x-cos-bucket-az-type", "MAZ");
    }
    if rec.layout.ofs {
        rb = rb.header("x-cos-bucket-arch", "OFS");
    }
    Ok(rb.content_length(0).empty())
}

pub async fn delete(state: &AppState, bucket: &BucketName) -> Result<Response> {
    state.store.delete_bucket(bucket.as_str()).await?;
    Ok(ResponseBuilder::new(StatusCode::NO_CONTENT).empty())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let conf = |az: Option<&str>, arch: Option<&str>| CreateBucketConfiguration {
            az: az.map(str::to_string),
            arch: arch.map(str::to_string),
            location_constraint: None,
        };
        let ok = |az, arch| layout(&conf(az, arch)).ok();
        assert_eq!(ok(None, None), Some(BucketLayout::default()));
        assert_eq!(ok(Some(""), Some(" ")), Some(BucketLayout::default()));
        assert_eq!(
            ok(Some("MAZ"), None),
            Some(BucketLayout {
                maz: true,
                ofs: false
            })
        );
        assert_eq!(
            ok(Some("maz"), Some("OFS")),
            Some(BucketLayout {
                maz: true,
                ofs: true
            })
        );
        for (az, arch) in [(Some("SAZ"), None), (None, Some("HDFS"))] {
            let e = layout(&conf(az, arch)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument);
        }
    }

    #[test]
    fn location_constraints() {
        let cfg = "ap-guangzhou";
        for (given, want) in [
            (None, Some("ap-guangzhou")),
            (Some(""), Some("ap-guangzhou")),
            (Some("eu-central-1"), Some("eu-central-1")),
            (Some("ap-guangzhou"), Some("ap-guangzhou")),
            (Some("EU"), None),
            (Some("a b"), None),
        ] {
            assert_eq!(bucket_region(given, cfg).ok().as_deref(), want, "{given:?}");
        }
    }
}
