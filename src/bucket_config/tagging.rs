//! Bucket tagging `PUT/GET/DELETE /?tagging` (cos-bucket.md §14): the same
//! document as object tagging, up to 50 tags; GET unset → 404 NoSuchTagSet.
//! Used by GET Service's tag filters.

use serde::{Deserialize, Serialize};

use super::{BucketConfig, Unset};
use crate::auth::Family;
use crate::error::{ErrorCode, Result};

/// Most tags a bucket may carry ([REC], cos-bucket.md §14).
pub const MAX_BUCKET_TAGS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketTagging {
    /// In the order given.
    pub tags: Vec<(String, String)>,
}

impl BucketConfig for BucketTagging {
    const NAME: &'static str = "tagging";
    const UNSET: Unset = Unset::Error(ErrorCode::NoSuchTagSet);

    fn parse(body: &[u8]) -> Result<Self> {
        let tags = crate::op::tagging::parse_document_limited(body, MAX_BUCKET_TAGS)?;
        Ok(BucketTagging { tags })
    }

    fn render(&self) -> String {
        crate::op::tagging::render(&self.tags, Family::Cos)
    }
}
