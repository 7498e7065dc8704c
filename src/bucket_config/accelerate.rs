//! Global acceleration `PUT/GET /?accelerate` (cos-bucket.md §14): stored
//! and returned; localcos has no acceleration endpoint to switch.
//! GET unset → 200 `<AccelerateConfiguration/>`.

use serde::{Deserialize, Serialize};

use super::{parse_xml, BucketConfig, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::render::xml::Xml;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accelerate {
    /// `Enabled` or `Suspended`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
}

impl BucketConfig for Accelerate {
    const NAME: &'static str = "accelerate";
    const UNSET: Unset = Unset::Empty("AccelerateConfiguration");

    fn parse(body: &[u8]) -> Result<Self> {
        let doc: Doc = parse_xml(body, "AccelerateConfiguration")?;
        let status = doc
            .status
            .ok_or_else(|| Error::new(ErrorCode::MalformedXML))?;
        if status != "Enabled" && status != "Suspended" {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                "Status must be Enabled or Suspended.",
            ));
        }
        Ok(Accelerate {
            status,
            kind: doc.kind.filter(|k| !k.is_empty()),
        })
    }

    fn render(&self) -> String {
        let mut x = Xml::new("AccelerateConfiguration");
        x.elem("Status", &self.status);
        if let Some(k) = &self.kind {
            x.elem("Type", k);
        }
        x.finish("AccelerateConfiguration")
    }
}
