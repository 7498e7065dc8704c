//! Default encryption `PUT/GET/DELETE /?encryption` (cos-bucket.md §6).
//! Writes without SSE headers on such a bucket are encrypted as the rule
//! says (`op::sse::sealing_for_bucket`). GET unset → 404
//! NoSuchEncryptionConfiguration.

use serde::{Deserialize, Serialize};

use super::{parse_xml, BucketConfig, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::render::xml::Xml;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultEncryption {
    /// `AES256` or `KMS`; `None`: a document without a rule (Node's
    /// `putBucketEncryption({})`), which GET reports as not configured.
    pub algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_algorithm: Option<String>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "Rule", default)]
    rules: Vec<RuleDoc>,
}

#[derive(Deserialize)]
struct RuleDoc {
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    by_default: Option<ByDefault>,
    /// The SDK test suites' typo (cos-bucket.md §6): accepted as the same.
    #[serde(rename = "ApplySideEncryptionConfiguration")]
    typo: Option<ByDefault>,
}

#[derive(Deserialize)]
struct ByDefault {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: Option<String>,
    #[serde(rename = "KMSMasterKeyID")]
    kms_key_id: Option<String>,
    #[serde(rename = "KMSAlgorithm")]
    kms_algorithm: Option<String>,
}

impl BucketConfig for DefaultEncryption {
    const NAME: &'static str = "encryption";
    const UNSET: Unset = Unset::Error(ErrorCode::NoSuchEncryptionConfiguration);

    fn parse(body: &[u8]) -> Result<Self> {
        let doc: Doc = parse_xml(body, "ServerSideEncryptionConfiguration")?;
        let Some(rule) = doc.rules.into_iter().next() else {
            return Ok(DefaultEncryption {
                algorithm: None,
                kms_key_id: None,
                kms_algorithm: None,
            });
        };
        let by_default = rule.by_default.or(rule.typo);
        let (algorithm, kms_key_id, kms_algorithm) = match by_default {
            Some(b) => (b.algorithm, b.kms_key_id, b.kms_algorithm),
            None => (None, None, None),
        };
        // A rule without a recognised algorithm is AES256 (§6: never 400).
        let algorithm = match algorithm.as_deref().map(str::trim) {
            Some("KMS") | Some("cos/kms") => "KMS",
            Some("AES256") | Some("") | None => "AES256",
            Some(_) => {
                return Err(Error::with_message(
                    ErrorCode::InvalidArgument,
                    "SSEAlgorithm must be AES256 or KMS.",
                ))
            }
        };
        Ok(DefaultEncryption {
            algorithm: Some(algorithm.to_string()),
            kms_key_id: kms_key_id.filter(|k| !k.is_empty()),
            kms_algorithm: kms_algorithm.filter(|k| !k.is_empty()),
        })
    }

    fn is_empty(&self) -> bool {
        self.algorithm.is_none()
    }

    fn render(&self) -> String {
        let mut x = Xml::new("ServerSideEncryptionConfiguration");
        if let Some(alg) = &self.algorithm {
            x.open("Rule").open("ApplyServerSideEncryptionByDefault");
            x.elem("SSEAlgorithm", alg);
            if let Some(k) = &self.kms_key_id {
                x.elem("KMSMasterKeyID", k);
            }
            if let Some(a) = &self.kms_algorithm {
                x.elem("KMSAlgorithm", a);
            }
            x.close("ApplyServerSideEncryptionByDefault").close("Rule");
        }
        x.finish("ServerSideEncryptionConfiguration")
    }
}
