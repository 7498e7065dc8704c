//! GET Service: https://cloud.tencent.com/document/product/436/8291, with the
//! filters and paging of cos-bucket.md §15.1.

use http::StatusCode;

use super::{owner_id, AppState, Req, Response};
use crate::auth::Family;
use crate::bucket_config::{stored, BucketTagging};
use crate::error::{Error, ErrorCode, Result};
use crate::http::query::Query;
use crate::render::headers::ResponseBuilder;
use crate::render::xml;
use crate::storage::BucketRecord;

/// Most buckets one GET Service page lists (and its default).
pub const MAX_KEYS: usize = 2000;

pub async fn list_buckets(state: &AppState, req: Req) -> Result<Response> {
    let mut filter = Filter::from_query(&req.query)?;
    if req.family == Family::Cos && filter.region.is_none() {
        // cos-nodejs-sdk-v5 names the region in the host instead of `region=`.
        filter.region = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(host_region)
            .map(str::to_string);
    }
    let mut buckets = state.store.list_buckets().await?;
    // A key scoped to some buckets lists only those.
    if let Some(id) = &req.identity {
        let scope = state.keys.current().await.scope(&id.secret_id);
        buckets.retain(|b| scope.covers_bucket(&b.name));
    }
    buckets.retain(|b| filter.matches(b));
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    let page = Page::cut(buckets, &filter.marker, filter.max_keys);
    let id = owner_id(state);
    // COS adds Marker / NextMarker / IsTruncated (cos-python-sdk-v5's test
    // pages on Marker and IsTruncated).
    let body = xml::list_buckets(
        &xml::Owner {
            id: &id,
            display_name: &state.config.addressing.appid,
        },
        &page.buckets,
        req.family,
        Some(&xml::ServicePage {
            marker: &filter.marker,
            next_marker: page.next_marker.as_deref(),
        }),
    );
    Ok(ResponseBuilder::new(StatusCode::OK).xml(body))
}

/// The region a COS service host names: `cos.<region>.myqcloud.com` or
/// `cos.<region>.tencentcos.cn` (port ignored).
fn host_region(host: &str) -> Option<&str> {
    let host = host.rsplit_once(':').map_or(host, |(h, p)| {
        if p.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let rest = host.strip_prefix("cos.")?;
    let region = rest
        .strip_suffix(".myqcloud.com")
        .or_else(|| rest.strip_suffix(".tencentcos.cn"))?;
    (!region.is_empty() && !region.contains('.')).then_some(region)
}

/// A creation-time comparison (`range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    Lt,
    Gt,
    Lte,
    Gte,
}

/// What GET Service's query asks for.
#[derive(Debug, Default)]
struct Filter {
    tag_key: Option<String>,
    tag_value: Option<String>,
    region: Option<String>,
    /// (unix seconds, comparison)
    created: Option<(i64, Range)>,
    marker: String,
    max_keys: usize,
}

impl Filter {
    /// # Behavior
    /// - `max-keys` 1..=2000 (default 2000), else 400 InvalidArgument;
    /// - `create-time` (unix seconds) and `range` (`lt|gt|lte|gte`) go
    ///   together: one without the other, or a bad value, is 400
    ///   InvalidArgument;
    /// - `tagkey` alone matches buckets with that tag key, with `tagvalue`
    ///   the pair; empty values are absent (the SDKs send `marker=`).
    fn from_query(q: &Query) -> Result<Filter> {
        let invalid = |msg: String| Error::with_message(ErrorCode::InvalidArgument, msg);
        let given = |name: &str| q.get(name).filter(|v| !v.is_empty()).map(str::to_string);
        let max_keys = match given("max-keys") {
            None => MAX_KEYS,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_KEYS).contains(n))
                .ok_or_else(|| invalid(format!("max-keys `{v}` must be 1 to {MAX_KEYS}.")))?,
        };
        let created = match (given("create-time"), given("range")) {
            (None, None) => None,
            (Some(t), Some(r)) => {
                let t = t
                    .parse::<i64>()
                    .map_err(|_| invalid(format!("create-time `{t}` is not a Unix time.")))?;
                let r = match r.as_str() {
                    "lt" => Range::Lt,
                    "gt" => Range::Gt,
                    "lte" => Range::Lte,
                    "gte" => Range::Gte,
                    _ => return Err(invalid(format!("range `{r}` must be lt, gt, lte or gte."))),
                };
                Some((t, r))
            }
            _ => {
                return Err(invalid(
                    "create-time and range must be given together.".to_string(),
                ))
            }
        };
        Ok(Filter {
            tag_key: given("tagkey"),
            tag_value: given("tagvalue"),
            region: given("region"),
            created,
            marker: q.get("marker").unwrap_or_default().to_string(),
            max_keys,
        })
    }

    fn matches(&self, b: &BucketRecord) -> bool {
        if self.region.as_ref().is_some_and(|r| *r != b.region) {
            return false;
        }
        if let Some((t, range)) = self.created {
            let created = b.created_ms.div_euclid(1000);
            let ok = match range {
                Range::Lt => created < t,
                Range::Gt => created > t,
                Range::Lte => created <= t,
                Range::Gte => created >= t,
            };
            if !ok {
                return false;
            }
        }
        if let Some(key) = &self.tag_key {
            let tags = stored::<BucketTagging>(b)
                .map(|t| t.tags)
                .unwrap_or_default();
            let value = self.tag_value.as_deref();
            if !tags
                .iter()
                .any(|(k, v)| k == key && value.is_none_or(|want| want == v))
            {
                return false;
            }
        }
        true
    }
}

/// One page of a name-ordered bucket list.
struct Page {
    buckets: Vec<BucketRecord>,
    /// The last name listed, when more follow.
    next_marker: Option<String>,
}

impl Page {
    fn cut(sorted: Vec<BucketRecord>, marker: &str, max_keys: usize) -> Page {
        let mut rest: Vec<BucketRecord> = sorted
            .into_iter()
            .filter(|b| b.name.as_str() > marker)
            .collect();
        let truncated = rest.len() > max_keys;
        rest.truncate(max_keys);
        let next_marker = truncated
            .then(|| rest.last().map(|b| b.name.clone()))
            .flatten();
        Page {
            buckets: rest,
            next_marker,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, region: &str, created_s: i64, tags: &[(&str, &str)]) -> BucketRecord {
        let mut configs = std::collections::BTreeMap::new();
        if !tags.is_empty() {
            let t = BucketTagging {
                tags: tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            };
            configs.insert("tagging".to_string(), serde_json::to_value(t).unwrap());
        }
        BucketRecord {
            name: name.into(),
            region: region.into(),
            created_ms: created_s * 1000 + 999,
            versioning: Default::default(),
            acl: None,
            configs,
            layout: Default::default(),
        }
    }

    fn filter(q: &str) -> Result<Filter> {
        Filter::from_query(&Query::parse(Some(q)).unwrap())
    }

    fn names(q: &str, all: &[BucketRecord]) -> Vec<String> {
        let f = filter(q).unwrap();
        all.iter()
            .filter(|b| f.matches(b))
            .map(|b| b.name.clone())
            .collect()
    }

    #[test]
    fn filters() {
        let all = [
            rec(
                "a-1",
                "ap-guangzhou",
                100,
                &[("env", "prod"), ("team", "x")],
            ),
            rec("b-1", "ap-beijing", 200, &[("env", "dev")]),
            rec("c-1", "ap-guangzhou", 300, &[]),
        ];
        assert_eq!(names("marker=&max-keys=2000", &all).len(), 3);
        assert_eq!(names("region=ap-beijing", &all), ["b-1"]);
        assert_eq!(names("tagkey=env&tagvalue=prod", &all), ["a-1"]);
        assert_eq!(names("tagkey=env", &all), ["a-1", "b-1"]);
        assert_eq!(names("tagkey=env&tagvalue=qa", &all), Vec::<String>::new());
        assert_eq!(names("create-time=200&range=gt", &all), ["c-1"]);
        assert_eq!(names("create-time=200&range=gte", &all), ["b-1", "c-1"]);
        assert_eq!(names("create-time=200&range=lt", &all), ["a-1"]);
        assert_eq!(names("create-time=200&range=lte", &all), ["a-1", "b-1"]);
        assert_eq!(
            names("region=ap-guangzhou&create-time=150&range=gt", &all),
            ["c-1"]
        );
    }

    #[test]
    fn bad_queries() {
        for q in [
            "max-keys=0",
            "max-keys=2001",
            "max-keys=x",
            "create-time=1",
            "range=gt",
            "create-time=x&range=gt",
            "create-time=1&range=eq",
        ] {
            let e = filter(q).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{q}");
        }
    }

    #[test]
    fn paging() {
        let all: Vec<_> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| rec(n, "r", 0, &[]))
            .collect();
        let p = Page::cut(all.clone(), "", 2);
        assert_eq!(p.next_marker.as_deref(), Some("b"));
        let p = Page::cut(all.clone(), "b", 2);
        assert_eq!(p.buckets.len(), 2);
        assert_eq!(p.next_marker.as_deref(), Some("d"));
        let p = Page::cut(all.clone(), "d", 2);
        assert_eq!(p.buckets.len(), 1);
        assert_eq!(p.next_marker, None);
        let p = Page::cut(all, "", 5);
        assert_eq!(p.next_marker, None);
    }

    #[test]
    fn host_regions() {
        assert_eq!(
            host_region("cos.ap-beijing.myqcloud.com"),
            Some("ap-beijing")
        );
        assert_eq!(
            host_region("cos.ap-beijing.myqcloud.com:9000"),
            Some("ap-beijing")
        );
        assert_eq!(
            host_region("cos.ap-beijing.tencentcos.cn"),
            Some("ap-beijing")
        );
        assert_eq!(host_region("service.cos.myqcloud.com"), None);
        assert_eq!(host_region("127.0.0.1:9000"), None);
        assert_eq!(host_region("b-1.cos.ap-beijing.myqcloud.com"), None);
    }
}
