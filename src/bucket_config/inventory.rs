//! Bucket inventory (cos-bucket.md §8): `PUT/GET/DELETE /?inventory&id=`,
//! `GET /?inventory` (list, 100 per page in creation order), `POST
//! /?inventory&id=` (a one-off job, run now) and the Daily/Weekly schedules
//! on the day clock (`state.config.days`).
//!
//! A report is gzip-compressed CSV data files, `manifest.json` and
//! `manifest.checksum`, written straight into the destination bucket (never
//! through the HTTP pipeline) under
//! `<Prefix|inventory_report>/<appid>/<bucket short name>/<id>/`:
//! `data/<uuid>.csv.gz` and `<YYYYMMDD>/manifest.{json,checksum}`.
//!
//! Documents are stored as their element tree (order and spelling as sent,
//! so GET echoes exactly what PUT stored, cos-bucket.md §0.4) next to the
//! schedule state, in the bucket record, so a cluster shares them.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::read_body;
use crate::error::{Error, ErrorCode, Result};
use crate::http::target::BucketName;
use crate::op::{AppState, Req, Response};
use crate::render::headers::ResponseBuilder;
use crate::render::xml::Xml;
use crate::storage::{BucketRecord, ObjectRecord, PutOptions, StorageError};

/// The key the configurations live under in `BucketRecord::configs`.
const NAME: &str = "inventory";
/// Most configurations per bucket ([REC], S3's limit).
pub const MAX_CONFIGS: usize = 1000;
/// Configurations per list page (cos-bucket.md §8.1).
pub const PAGE: usize = 100;
/// Longest Id.
const MAX_ID: usize = 64;
/// Rows per data file.
const ROWS_PER_FILE: usize = 1_000_000;
/// Fields OptionalFields may name, besides `x-cos-meta-*` ones.
const FIELDS: &[&str] = &[
    "Size",
    "LastModifiedDate",
    "ETag",
    "StorageClass",
    "IsMultipartUploaded",
    "ReplicationStatus",
    "Tag",
    "Crc64",
];

/// One XML element as sent: name, text, children in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
    fn render_into(&self, x: &mut Xml) {
        if self.children.is_empty() {
            x.elem(&self.name, &self.text);
        } else {
            x.open(&self.name);
            for c in &self.children {
                c.render_into(x);
            }
            x.close(&self.name);
        }
    }
    /// The document (with the declaration).
    pub fn render(&self) -> String {
        let mut x = Xml::new(&self.name);
        for c in &self.children {
            c.render_into(&mut x);
        }
        x.finish(&self.name)
    }
}

/// Parses a document into its tree (400 MalformedXML when not well formed).
pub fn parse_tree(body: &[u8]) -> Result<Node> {
    use quick_xml::events::Event;
    let malformed = || Error::new(ErrorCode::MalformedXML);
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().map_err(|_| malformed())? {
            Event::Start(e) => {
                if root.is_some() {
                    return Err(malformed());
                }
                stack.push(Node {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Default::default()
                });
            }
            Event::Empty(e) => {
                let n = Node {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Default::default()
                };
                match stack.last_mut() {
                    Some(p) => p.children.push(n),
                    None if root.is_none() => root = Some(n),
                    None => return Err(malformed()),
                }
            }
            Event::Text(t) => {
                let t = t.unescape().map_err(|_| malformed())?;
                match stack.last_mut() {
                    Some(p) => p.text.push_str(&t),
                    None if t.trim().is_empty() => {}
                    None => return Err(malformed()),
                }
            }
            Event::CData(t) => {
                let p = stack.last_mut().ok_or_else(malformed)?;
                p.text.push_str(&String::from_utf8_lossy(&t));
            }
            Event::End(_) => {
                let mut n = stack.pop().ok_or_else(malformed)?;
                if !n.children.is_empty() {
                    n.text.clear();
                }
                match stack.last_mut() {
                    Some(p) => p.children.push(n),
                    None => root = Some(n),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed());
    }
    root.ok_or_else(malformed)
}

/// A validated configuration: what the job needs, read from the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub id: String,
    pub enabled: bool,
    /// `Daily`, `Weekly` or `Monthly`; `None` for a POST job.
    pub frequency: Option<String>,
    pub dest_region: String,
    pub dest_bucket: String,
    pub dest_prefix: Option<String>,
    pub encrypt: bool,
    pub filter_prefix: String,
    pub filter_tags: Vec<(String, String)>,
    pub filter_storage_class: Option<String>,
    /// Last-modified window in Unix seconds, inclusive.
    pub period: Option<(i64, i64)>,
    pub all_versions: bool,
    pub fields: Vec<String>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, message.into())
}

fn malformed(message: &str) -> Error {
    Error::with_message(ErrorCode::MalformedXML, message.to_string())
}

/// Whether `id` is a valid inventory Id: 1–64 of `a-z A-Z 0-9 - _ .`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Validates a document for `id` (`job`: the POST form, without IsEnabled
/// and Schedule).
/// # Behavior
/// - Wrong root, missing Destination/COSBucketDestination, Format, Bucket,
///   IncludedObjectVersions (and for PUT IsEnabled, Schedule/Frequency) →
///   400 MalformedXML.
/// - An Id that differs from the `id` parameter or breaks the Id rules,
///   Format other than CSV, a Bucket not `qcs::cos:<region>::<bucket>`, a
///   non-numeric AccountId, Encryption other than SSE-COS, a Frequency
///   other than Daily/Weekly/Monthly, IsEnabled not true/false, versions
///   other than All/Current, an unknown OptionalFields Field, a Period with
///   non-numeric or reversed times → 400 InvalidArgument.
pub fn validate(tree: &Node, id: &str, job: bool) -> Result<Spec> {
    if tree.name != "InventoryConfiguration" {
        return Err(malformed("The root must be InventoryConfiguration."));
    }
    if !valid_id(id) {
        return Err(invalid(
            "The inventory id must be 1-64 characters of a-z, A-Z, 0-9, '-', '_' and '.'.",
        ));
    }
    match tree.text_of("Id") {
        Some(doc_id) if doc_id != id => {
            return Err(invalid("Id must equal the id parameter."));
        }
        Some(_) => {}
        None => return Err(malformed("InventoryConfiguration needs an Id.")),
    }
    let enabled = match (tree.text_of("IsEnabled"), job) {
        (Some(v), _) if v.eq_ignore_ascii_case("true") => true,
        (Some(v), _) if v.eq_ignore_ascii_case("false") => false,
        (Some(_), _) => return Err(invalid("IsEnabled must be true or false.")),
        (None, true) => true,
        (None, false) => return Err(malformed("InventoryConfiguration needs IsEnabled.")),
    };
    let dest = tree
        .child("Destination")
        .and_then(|d| d.child("COSBucketDestination"))
        .ok_or_else(|| malformed("Destination needs a COSBucketDestination."))?;
    match dest.text_of("Format") {
        Some("CSV") => {}
        Some(_) => return Err(invalid("Format must be CSV.")),
        None => return Err(malformed("COSBucketDestination needs a Format.")),
    }
    if let Some(account) = dest.text_of("AccountId") {
        if account.is_empty() || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("AccountId must be a numeric account id."));
        }
    }
    let bucket = dest
        .text_of("Bucket")
        .ok_or_else(|| malformed("COSBucketDestination needs a Bucket."))?;
    let (dest_region, dest_bucket) = bucket
        .strip_prefix("qcs::cos:")
        .and_then(|r| r.split_once("::"))
        .filter(|(r, b)| !r.is_empty() && !b.is_empty() && !b.contains(':'))
        .ok_or_else(|| invalid("Bucket must be qcs::cos:<region>::<bucket>-<appid>."))?;
    let dest_prefix = dest.text_of("Prefix").map(str::to_string);
    if dest_prefix
        .as_deref()
        .is_some_and(|p| p.len() > 512 || p.chars().any(char::is_control))
    {
        return Err(invalid(
            "Prefix must be at most 512 bytes without control characters.",
        ));
    }
    let encrypt = match dest.child("Encryption") {
        None => false,
        Some(e) => match e.children.as_slice() {
            [one] if one.name == "SSE-COS" || one.name == "SSECOS" => true,
            _ => return Err(invalid("Encryption must be SSE-COS.")),
        },
    };
    let frequency = if job {
        None
    } else {
        let f = tree
            .child("Schedule")
            .and_then(|s| s.text_of("Frequency"))
            .ok_or_else(|| malformed("Schedule needs a Frequency."))?;
        if !matches!(f, "Daily" | "Weekly" | "Monthly") {
            return Err(invalid("Frequency must be Daily or Weekly."));
        }
        Some(f.to_string())
    };
    let mut filter_prefix = String::new();
    let mut filter_tags = Vec::new();
    let mut filter_storage_class = None;
    let mut period = None;
    if let Some(filter) = tree.child("Filter") {
        let and = filter.child("And");
        for scope in [Some(filter), and].into_iter().flatten() {
            if let Some(p) = scope.text_of("Prefix") {
                filter_prefix = p.to_string();
            }
            for tag in scope.all("Tag") {
                let key = tag
                    .text_of("Key")
                    .ok_or_else(|| malformed("A Tag needs a Key."))?;
                filter_tags.push((
                    key.to_string(),
                    tag.text_of("Value").unwrap_or("").to_string(),
                ));
            }
            if let Some(c) = scope.text_of("StorageClass") {
                filter_storage_class = Some(c.to_string());
            }
        }
        if let Some(p) = filter.child("Period") {
            let time = |n: &str| -> Result<Option<i64>> {
                match p.text_of(n) {
                    None => Ok(None),
                    Some(t) => t
                        .trim()
                        .parse::<i64>()
                        .map(Some)
                        .map_err(|_| invalid("Period times are Unix seconds.")),
                }
            };
            let (start, end) = (time("StartTime")?, time("EndTime")?);
            let (start, end) = (start.unwrap_or(0), end.unwrap_or(i64::MAX));
            if start > end {
                return Err(invalid("Period StartTime must not be after EndTime."));
            }
            period = Some((start, end));
        }
    }
    let all_versions = match tree.text_of("IncludedObjectVersions") {
        Some("All") => true,
        Some("Current") => false,
        Some(_) => return Err(invalid("IncludedObjectVersions must be All or Current.")),
        None => {
            return Err(malformed(
                "InventoryConfiguration needs IncludedObjectVersions.",
            ))
        }
    };
    let mut fields = Vec::new();
    if let Some(opt) = tree.child("OptionalFields") {
        for f in opt.all("Field") {
            let name = f.text.as_str();
            let meta = name
                .strip_prefix("x-cos-meta-")
                .is_some_and(|rest| !rest.is_empty());
            if !FIELDS.contains(&name) && !meta {
                return Err(invalid(format!("Unknown OptionalFields Field `{name}`.")));
            }
            if !fields.iter().any(|x| x == name) {
                fields.push(name.to_string());
            }
        }
    }
    Ok(Spec {
        id: id.to_string(),
        enabled,
        frequency,
        dest_region: dest_region.to_string(),
        dest_bucket: dest_bucket.to_string(),
        dest_prefix,
        encrypt,
        filter_prefix,
        filter_tags,
        filter_storage_class,
        period,
        all_versions,
        fields,
    })
}

/// One stored configuration with its schedule state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub doc: Node,
    pub created_ms: i64,
    /// The schedule slot (a day boundary) of the last scheduled run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_slot_ms: Option<i64>,
}

/// Everything stored under `configs["inventory"]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stored {
    /// In creation order.
    #[serde(default)]
    pub configs: Vec<Entry>,
    /// One-off jobs: id → start of the day (day clock) it ran.
    #[serde(default)]
    pub posted: Vec<(String, i64)>,
}

fn stored(rec: &BucketRecord) -> Stored {
    rec.configs
        .get(NAME)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

fn save(rec: &mut BucketRecord, s: &Stored) {
    if s.configs.is_empty() && s.posted.is_empty() {
        rec.configs.remove(NAME);
    } else if let Ok(v) = serde_json::to_value(s) {
        rec.configs.insert(NAME.to_string(), v);
    }
}

/// Applies `f` to the stored configurations in one bucket-record update;
/// `f`'s error (if any) is returned and nothing changes.
async fn update(
    state: &AppState,
    bucket: &str,
    f: impl FnOnce(&mut Stored) -> Result<()> + Send + 'static,
) -> Result<()> {
    let outcome: Arc<Mutex<Option<Result<()>>>> = Arc::new(Mutex::new(None));
    let slot = outcome.clone();
    state
        .store
        .meta()
        .update_bucket(
            bucket,
            Box::new(move |rec| {
                let mut s = stored(rec);
                let r = f(&mut s);
                if r.is_ok() {
                    save(rec, &s);
                }
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            }),
        )
        .await?;
    let r = outcome
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or(Ok(()));
    r
}

fn id_param(req: &Req) -> Result<String> {
    match req.query.get("id") {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(invalid("The id parameter is required.")),
    }
}

/// The destination bucket of `spec` must exist here.
async fn check_destination(state: &AppState, spec: &Spec) -> Result<()> {
    match state.store.bucket(&spec.dest_bucket).await? {
        Some(_) => Ok(()),
        None => Err(invalid(format!(
            "The destination bucket {} does not exist.",
            spec.dest_bucket
        ))),
    }
}

/// Routes `?inventory` by method and `id`.
pub async fn dispatch(
    state: &AppState,
    bucket: &BucketName,
    method: &http::Method,
    req: Req,
) -> Result<Response> {
    let rec = super::bucket_record(state, bucket).await?;
    match *method {
        http::Method::GET if req.query.get("id").is_none() => list(&rec, &req),
        http::Method::GET => {
            let id = id_param(&req)?;
            let s = stored(&rec);
            let e = s
                .configs
                .iter()
                .find(|e| e.id == id)
                .ok_or_else(|| Error::new(ErrorCode::NoSuchInventoryConfiguration))?;
            Ok(ResponseBuilder::new(StatusCode::OK).xml(e.doc.render()))
        }
        http::Method::PUT => {
            let id = id_param(&req)?;
            let body = read_body(req).await?;
            let tree = parse_tree(&body)?;
            let spec = validate(&tree, &id, false)?;
            check_destination(state, &spec).await?;
            let now = crate::clock::now_ms();
            update(state, bucket.as_str(), move |s| {
                let full = s.configs.len() >= MAX_CONFIGS;
                match s.configs.iter_mut().find(|e| e.id == id) {
                    // Replacing keeps the place in the list and restarts the schedule.
                    Some(e) => {
                        e.doc = tree;
                        e.created_ms = now;
                        e.last_slot_ms = None;
                    }
                    None if full => {
                        return Err(Error::with_message(
                            ErrorCode::TooManyConfigurations,
                            format!("A bucket has at most {MAX_CONFIGS} inventory configurations."),
                        ));
                    }
                    None => s.configs.push(Entry {
                        id,
                        doc: tree,
                        created_ms: now,
                        last_slot_ms: None,
                    }),
                }
                Ok(())
            })
            .await?;
            Ok(ResponseBuilder::new(StatusCode::OK)
                .content_length(0)
                .empty())
        }
        http::Method::DELETE => {
            let id = id_param(&req)?;
            update(state, bucket.as_str(), move |s| {
                let before = s.configs.len();
                s.configs.retain(|e| e.id != id);
                if s.configs.len() == before {
                    return Err(Error::new(ErrorCode::NoSuchInventoryConfiguration));
                }
                Ok(())
            })
            .await?;
            Ok(ResponseBuilder::new(StatusCode::NO_CONTENT).empty())
        }
        _ => post(state, bucket, req).await,
    }
}

/// GET `/?inventory[&continuation-token=]`: 100 per page in creation order;
/// the token is the id of the last configuration of the previous page.
fn list(rec: &BucketRecord, req: &Req) -> Result<Response> {
    let s = stored(rec);
    let token = req
        .query
        .get("continuation-token")
        .filter(|t| !t.is_empty());
    let start = match token {
        None => 0,
        Some(t) => {
            s.configs
                .iter()
                .position(|e| e.id == t)
                .ok_or_else(|| invalid("The continuation-token is not valid."))?
                + 1
        }
    };
    let page: Vec<&Entry> = s.configs.iter().skip(start).take(PAGE).collect();
    let truncated = start + page.len() < s.configs.len();
    let root = "ListInventoryConfigurationResult";
    let mut x = Xml::new(root);
    for e in &page {
        e.doc.render_into(&mut x);
    }
    x.elem("IsTruncated", if truncated { "true" } else { "false" });
    if let Some(t) = token {
        x.elem("ContinuationToken", t);
    }
    if truncated {
        if let Some(last) = page.last() {
            x.elem("NextContinuationToken", &last.id);
        }
    }
    Ok(ResponseBuilder::new(StatusCode::OK).xml(x.finish(root)))
}

/// POST `/?inventory&id=`: validates, runs the job now and answers with its
/// JobId; the same id twice in one day (day clock) → 409 DuplicateInventoryId.
async fn post(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let id = id_param(&req)?;
    let body = read_body(req).await?;
    let tree = parse_tree(&body)?;
    let spec = validate(&tree, &id, true)?;
    check_destination(state, &spec).await?;
    let days = state.config.days;
    let now = crate::clock::now_ms();
    let today = days.boundary_at_or_after(now.saturating_add(1)) - days.days_ms(1);
    let claim = id.clone();
    update(state, bucket.as_str(), move |s| {
        s.posted.retain(|(_, day)| *day >= today);
        if s.posted.iter().any(|(i, _)| *i == claim) {
            return Err(Error::new(ErrorCode::DuplicateInventoryId));
        }
        s.posted.push((claim, today));
        Ok(())
    })
    .await?;
    run_job(state, bucket.as_str(), &spec, now).await?;
    let root = "PostInventoryResult";
    let mut x = Xml::new(root);
    x.elem("JobId", &format!("{id}-{now}"));
    Ok(ResponseBuilder::new(StatusCode::OK).xml(x.finish(root)))
}

// ---------------------------------------------------------------------------
// The report.

/// Keys and free text in CSV cells: percent-encoded except unreserved
/// characters and `/` (cos-bucket.md §8.2: keys URL-encoded).
const CELL: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn url(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, CELL).to_string()
}

/// One object (or version) of the listing.
#[derive(Debug, Clone)]
pub struct Row {
    pub key: String,
    pub record: ObjectRecord,
    /// `Some(is_latest)` for an All-versions report.
    pub latest: Option<bool>,
}

/// The CSV header names for `spec` (the manifest's `fileSchema`).
pub fn schema(spec: &Spec) -> Vec<String> {
    let mut cols: Vec<String> = ["AppID", "Bucket", "Key"].map(String::from).to_vec();
    if spec.all_versions {
        cols.extend(["VersionId", "IsLatest", "IsDeleteMarker"].map(String::from));
    }
    cols.extend(spec.fields.iter().cloned());
    cols
}

/// The CSV cells of one row, in [`schema`] order.
pub fn cells(spec: &Spec, appid: &str, short: &str, row: &Row) -> Vec<String> {
    let r = &row.record;
    let mut out = vec![appid.to_string(), short.to_string(), url(&row.key)];
    if let Some(latest) = row.latest {
        out.push(r.version_id.clone().unwrap_or_else(|| "null".into()));
        out.push(latest.to_string());
        out.push(r.delete_marker.to_string());
    }
    let marker = r.delete_marker;
    for f in &spec.fields {
        let v = match f.as_str() {
            _ if marker => String::new(),
            "Size" => r.size.to_string(),
            "LastModifiedDate" => crate::render::xml::iso8601(r.last_modified()),
            "ETag" => r.etag.clone(),
            "StorageClass" => r.storage_class.clone(),
            "IsMultipartUploaded" => r.etag.contains('-').to_string(),
            "ReplicationStatus" => String::new(),
            "Tag" => r
                .tags
                .iter()
                .map(|(k, v)| format!("{}={}", url(k), url(v)))
                .collect::<Vec<_>>()
                .join("&"),
            "Crc64" => r.crc64.to_string(),
            "x-cos-meta-*" => r
                .headers
                .user_meta
                .iter()
                .map(|(k, v)| format!("{}={}", url(k), url(v)))
                .collect::<Vec<_>>()
                .join("&"),
            other => {
                let name = other.trim_start_matches("x-cos-meta-").to_ascii_lowercase();
                r.headers
                    .user_meta
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| url(v))
                    .unwrap_or_default()
            }
        };
        out.push(v);
    }
    out
}

/// Whether `row` passes the Filter of `spec` (the prefix is the scan's).
pub fn matches(spec: &Spec, row: &Row) -> bool {
    let r = &row.record;
    if !row.key.starts_with(&spec.filter_prefix) {
        return false;
    }
    if let Some(c) = &spec.filter_storage_class {
        if !r.delete_marker && !r.storage_class.eq_ignore_ascii_case(c) {
            return false;
        }
    }
    if !spec
        .filter_tags
        .iter()
        .all(|(k, v)| r.tags.iter().any(|(tk, tv)| tk == k && tv == v))
    {
        return false;
    }
    if let Some((start, end)) = spec.period {
        let secs = r.last_modified_ms.div_euclid(1000);
        if secs < start || secs > end {
            return false;
        }
    }
    true
}

/// Renders rows as one gzip-compressed CSV file.
pub fn csv_gz(rows: &[Vec<String>]) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(gz);
    for r in rows {
        w.write_record(r).map_err(std::io::Error::other)?;
    }
    let mut gz = w
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    gz.flush()?;
    gz.finish()
}

/// The listing the report covers: every current object, or every version
/// and delete marker (`All`), read in ONE index call, i.e. one transaction
/// (`MetaStore`: every method is one atomic transaction). The report is a
/// consistent snapshot: a write committed meanwhile is wholly in it or
/// wholly out, never half-way through the pages of a report.
async fn listing(
    state: &AppState,
    bucket: &str,
    prefix: &str,
    all: bool,
) -> std::result::Result<Vec<Row>, StorageError> {
    let meta = state.store.meta();
    Ok(if all {
        meta.list_versions(
            bucket,
            prefix,
            &crate::storage::versions::VersionCursor::default(),
            usize::MAX,
        )
        .await?
        .into_iter()
        .map(|e| Row {
            key: e.key,
            record: e.record,
            latest: Some(e.is_latest),
        })
        .collect()
    } else {
        meta.list_objects(bucket, prefix, "", usize::MAX)
            .await?
            .into_iter()
            .map(|(key, record)| Row {
                key,
                record,
                latest: None,
            })
            .collect()
    })
}

/// `YYYYMMDD` of `ms` in Beijing time (COS's day).
fn date_of(ms: i64) -> String {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis((ms + 8 * 3_600_000).max(0) as u64);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    format!("{}{}{}", &s[0..4], &s[5..7], &s[8..10])
}

/// Where a report for `bucket`/`id` goes: `<Prefix|inventory_report>/<appid>/<short>/<id>`.
pub fn report_root(spec: &Spec, appid: &str, short: &str) -> String {
    let prefix = spec
        .dest_prefix
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("inventory_report")
        .trim_end_matches('/');
    format!("{prefix}/{appid}/{short}/{}", spec.id)
}

fn appid_and_short<'a>(state: &'a AppState, bucket: &'a str) -> (&'a str, &'a str) {
    match bucket.rsplit_once('-') {
        Some((short, appid)) if !appid.is_empty() && appid.bytes().all(|b| b.is_ascii_digit()) => {
            (appid, short)
        }
        _ => (state.config.addressing.appid.as_str(), bucket),
    }
}

async fn write_object(
    state: &AppState,
    spec: &Spec,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<()> {
    let len = bytes.len() as u64;
    let body: crate::storage::ByteStream =
        Box::pin(futures_util::stream::iter([Ok::<_, StorageError>(
            Bytes::from(bytes),
        )]));
    let mut h = HeaderMap::new();
    if spec.encrypt {
        h.insert(
            "x-cos-server-side-encryption",
            http::HeaderValue::from_static("AES256"),
        );
    }
    let dest = BucketName::parse_exact(&spec.dest_bucket)
        .map_err(|_| invalid("The destination bucket name is not valid."))?;
    let sse = crate::op::sse::sealing_for(state, &dest, &h).await?;
    let mut opts = PutOptions {
        content_length: Some(len),
        sse,
        ..Default::default()
    };
    opts.headers.content_type = Some(content_type.to_string());
    state
        .store
        .put_object(&spec.dest_bucket, key, body, opts)
        .await?;
    Ok(())
}

/// Runs one report of `bucket` for `spec` now: data files, then
/// manifest.json, then manifest.checksum (a reader that finds the checksum
/// finds everything it describes).
pub async fn run_job(state: &AppState, bucket: &str, spec: &Spec, now_ms: i64) -> Result<()> {
    let rows = listing(state, bucket, "", spec.all_versions).await?;
    let (appid, short) = appid_and_short(state, bucket);
    let list_count = rows.len();
    let list_size: u64 = rows.iter().map(|r| r.record.size).sum();
    let kept: Vec<&Row> = rows.iter().filter(|r| matches(spec, r)).collect();
    let filter_size: u64 = kept.iter().map(|r| r.record.size).sum();
    let root = report_root(spec, appid, short);
    let mut files = Vec::new();
    for chunk in kept.chunks(ROWS_PER_FILE.max(1)) {
        let table: Vec<Vec<String>> = chunk.iter().map(|r| cells(spec, appid, short, r)).collect();
        let gz = csv_gz(&table)
            .map_err(|e| Error::with_message(ErrorCode::InternalError, e.to_string()))?;
        let key = format!("{root}/data/{}.csv.gz", uuid::Uuid::now_v7());
        files.push(serde_json::json!({
            "key": key,
            "size": gz.len(),
            "MD5checksum": hex::encode(Md5::digest(&gz)),
        }));
        write_object(state, spec, &key, gz, "application/x-gzip").await?;
    }
    let manifest = serde_json::json!({
        "sourceBucket": bucket,
        "destinationBucket": format!("qcs::cos:{}::{}", spec.dest_region, spec.dest_bucket),
        "version": "2019-09-01",
        "creationTimestamp": now_ms.to_string(),
        "fileFormat": "CSV",
        "fileSchema": schema(spec).join(", "),
        "files": files,
        "listObjectCount": list_count,
        "listStorageSize": list_size,
        "filterObjectCount": kept.len(),
        "filterStorageSize": filter_size,
    });
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::with_message(ErrorCode::InternalError, e.to_string()))?;
    let checksum = hex::encode(Md5::digest(&text));
    let day = format!("{root}/{}", date_of(now_ms));
    write_object(
        state,
        spec,
        &format!("{day}/manifest.json"),
        text,
        "application/json",
    )
    .await?;
    write_object(
        state,
        spec,
        &format!("{day}/manifest.checksum"),
        checksum.into_bytes(),
        "text/plain",
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Schedules.

/// The schedule slot of an entry due at `now_ms`, if any: the first day
/// boundary after the configuration was stored, then every 1 (Daily), 7
/// (Weekly) or 30 (Monthly) days; after a pause only the latest missed slot.
pub fn due_slot(
    days: &crate::clock::DayClock,
    frequency: &str,
    created_ms: i64,
    last_slot_ms: Option<i64>,
    now_ms: i64,
) -> Option<i64> {
    let period = days.days_ms(match frequency {
        "Weekly" => 7,
        "Monthly" => 30,
        _ => 1,
    });
    let first = match last_slot_ms {
        Some(last) => last.saturating_add(period),
        None => days.boundary_at_or_after(created_ms.saturating_add(1)),
    };
    if now_ms < first {
        return None;
    }
    let missed = (now_ms - first) / period.max(1);
    Some(first + missed * period)
}

/// One pass of the scheduler: runs every enabled configuration whose slot
/// has come, claiming the slot in the bucket record first (so two nodes of
/// a cluster never both run it).
pub async fn run_due(state: &AppState, now_ms: i64) {
    let buckets = match state.store.list_buckets().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "inventory scheduler: cannot list buckets");
            return;
        }
    };
    let days = state.config.days;
    for rec in buckets {
        for entry in stored(&rec).configs {
            let Ok(spec) = validate(&entry.doc, &entry.id, false) else {
                continue;
            };
            let Some(freq) = spec.frequency.as_deref().filter(|_| spec.enabled) else {
                continue;
            };
            let Some(slot) = due_slot(&days, freq, entry.created_ms, entry.last_slot_ms, now_ms)
            else {
                continue;
            };
            let (id, created, last) = (entry.id.clone(), entry.created_ms, entry.last_slot_ms);
            let claimed = update(state, &rec.name, move |s| {
                match s.configs.iter_mut().find(|e| e.id == id) {
                    Some(e) if e.created_ms == created && e.last_slot_ms == last => {
                        e.last_slot_ms = Some(slot);
                        Ok(())
                    }
                    _ => Err(Error::new(ErrorCode::NoSuchInventoryConfiguration)),
                }
            })
            .await;
            if claimed.is_err() {
                continue;
            }
            if let Err(e) = run_job(state, &rec.name, &spec, now_ms).await {
                tracing::warn!(bucket = %rec.name, id = %entry.id, error = %e.message(), "inventory report failed");
            }
        }
    }
}

/// The scheduler: checks a few times per day (between 0.25 s and 60 s).
/// Stops when its task is aborted (`Server::run`).
pub async fn run(state: Arc<AppState>) {
    let every =
        (state.config.days.day() / 4).clamp(Duration::from_millis(250), Duration::from_secs(60));
    let ttl = crate::storage::gc::job_lease_ttl(every);
    loop {
        tokio::time::sleep(every).await;
        // One node of a cluster schedules (storage/gc.rs); the slot claim in
        // the bucket record keeps a report from running twice regardless.
        let run = run_due(&state, crate::clock::now_ms());
        if state
            .store
            .run_leased("inventory", ttl, run)
            .await
            .is_none()
        {
            continue;
        }
        crate::metrics::job_ran(crate::metrics::Job::Inventory, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PY_PUT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<InventoryConfiguration><Destination><COSBucketDestination><AccountId>100000000001</AccountId><Bucket>qcs::cos:ap-guangzhou::inventorybucket-1250000000</Bucket><Format>CSV</Format><Prefix>inventory</Prefix><Encryption><SSE-COS></SSE-COS></Encryption></COSBucketDestination></Destination><IsEnabled>true</IsEnabled><Filter><And><Prefix>data/</Prefix><Tag><Key>team</Key><Value>storage</Value></Tag><StorageClass>STANDARD</StorageClass></And><Period><StartTime>1700000000</StartTime><EndTime>1800000000</EndTime></Period></Filter><IncludedObjectVersions>All</IncludedObjectVersions><OptionalFields><Field>Size</Field><Field>LastModifiedDate</Field><Field>ETag</Field><Field>StorageClass</Field><Field>IsMultipartUploaded</Field><Field>ReplicationStatus</Field><Field>Tag</Field><Field>Crc64</Field><Field>x-cos-meta-*</Field></OptionalFields><Schedule><Frequency>Weekly</Frequency></Schedule><Id>weekly-csv</Id></InventoryConfiguration>"#;

    #[test]
    fn tree_round_trip_keeps_order_and_spelling() {
        let t = parse_tree(PY_PUT.as_bytes()).unwrap();
        let body = PY_PUT.split_once('\n').unwrap().1;
        let rendered = t.render();
        assert_eq!(rendered.split_once('\n').unwrap().1, body);
        assert_eq!(parse_tree(rendered.as_bytes()).unwrap(), t);
    }

    #[test]
    fn validates_the_sdk_documents() {
        let s = validate(&parse_tree(PY_PUT.as_bytes()).unwrap(), "weekly-csv", false).unwrap();
        assert!(s.enabled && s.all_versions && s.encrypt);
        assert_eq!(s.frequency.as_deref(), Some("Weekly"));
        assert_eq!(s.dest_region, "ap-guangzhou");
        assert_eq!(s.dest_bucket, "inventorybucket-1250000000");
        assert_eq!(s.dest_prefix.as_deref(), Some("inventory"));
        assert_eq!(s.filter_prefix, "data/");
        assert_eq!(s.filter_tags, vec![("team".into(), "storage".into())]);
        assert_eq!(s.filter_storage_class.as_deref(), Some("STANDARD"));
        assert_eq!(s.period, Some((1_700_000_000, 1_800_000_000)));
        assert_eq!(s.fields.len(), 9);
        assert_eq!(
            schema(&s)[..6].join(","),
            "AppID,Bucket,Key,VersionId,IsLatest,IsDeleteMarker"
        );
    }

    fn doc(parts: &[(&str, &str)]) -> String {
        let mut m: Vec<(&str, String)> = vec![
            ("Id", "<Id>a</Id>".into()),
            ("IsEnabled", "<IsEnabled>true</IsEnabled>".into()),
            ("Destination", "<Destination><COSBucketDestination><Format>CSV</Format><AccountId>1</AccountId><Bucket>qcs::cos:ap-guangzhou::d-1250000000</Bucket></COSBucketDestination></Destination>".into()),
            ("Schedule", "<Schedule><Frequency>Daily</Frequency></Schedule>".into()),
            ("IncludedObjectVersions", "<IncludedObjectVersions>Current</IncludedObjectVersions>".into()),
        ];
        for (k, v) in parts {
            match m.iter_mut().find(|(n, _)| n == k) {
                Some(e) => e.1 = v.to_string(),
                None => m.push((k, v.to_string())),
            }
        }
        format!(
            "<InventoryConfiguration>{}</InventoryConfiguration>",
            m.into_iter().map(|(_, v)| v).collect::<String>()
        )
    }

    #[test]
    fn validation_table() {
        let dest = |inner: &str| {
            format!(
                "<Destination><COSBucketDestination>{inner}</COSBucketDestination></Destination>"
            )
        };
        let b = "<Bucket>qcs::cos:ap-guangzhou::d-1250000000</Bucket>";
        let long = "x".repeat(65);
        let cases: Vec<(String, &str, bool, Option<&str>)> = vec![
            (doc(&[]), "a", false, None),
            (doc(&[("IsEnabled", "<IsEnabled>False</IsEnabled>")]), "a", false, None),
            (doc(&[("IsEnabled", "")]), "a", true, None),
            (doc(&[("Schedule", "")]), "a", true, None),
            (doc(&[("Filter", "<Filter><Prefix>p/</Prefix></Filter>")]), "a", false, None),
            (doc(&[("Destination", &dest(&format!("<Format>CSV</Format>{b}<Encryption><SSECOS></SSECOS></Encryption>")))]), "a", false, None),
            (doc(&[("OptionalFields", "<OptionalFields><Field>Size</Field><Field>x-cos-meta-color</Field></OptionalFields>")]), "a", false, None),
            // Missing pieces.
            (doc(&[("Id", "")]), "a", false, Some("MalformedXML")),
            (doc(&[("IsEnabled", "")]), "a", false, Some("MalformedXML")),
            (doc(&[("Schedule", "")]), "a", false, Some("MalformedXML")),
            (doc(&[("Destination", "")]), "a", false, Some("MalformedXML")),
            (doc(&[("Destination", &dest(b))]), "a", false, Some("MalformedXML")),
            (doc(&[("Destination", &dest("<Format>CSV</Format>"))]), "a", false, Some("MalformedXML")),
            (doc(&[("IncludedObjectVersions", "")]), "a", false, Some("MalformedXML")),
            ("<Other/>".to_string(), "a", false, Some("MalformedXML")),
            // Values out of range.
            (doc(&[]), "b", false, Some("InvalidArgument")),
            (doc(&[("Id", "<Id>a b</Id>")]), "a b", false, Some("InvalidArgument")),
            (doc(&[("Id", &format!("<Id>{}</Id>", "x".repeat(65)))]), &long, false, Some("InvalidArgument")),
            (doc(&[("IsEnabled", "<IsEnabled>yes</IsEnabled>")]), "a", false, Some("InvalidArgument")),
            (doc(&[("Destination", &dest(&format!("<Format>ORC</Format>{b}")))]), "a", false, Some("InvalidArgument")),
            (doc(&[("Destination", &dest("<Format>CSV</Format><Bucket>d-1250000000</Bucket>"))]), "a", false, Some("InvalidArgument")),
            (doc(&[("Destination", &dest(&format!("<Format>CSV</Format>{b}<AccountId>x1</AccountId>")))]), "a", false, Some("InvalidArgument")),
            (doc(&[("Destination", &dest(&format!("<Format>CSV</Format>{b}<Encryption><SSE-KMS></SSE-KMS></Encryption>")))]), "a", false, Some("InvalidArgument")),
            (doc(&[("Schedule", "<Schedule><Frequency>Hourly</Frequency></Schedule>")]), "a", false, Some("InvalidArgument")),
            (doc(&[("IncludedObjectVersions", "<IncludedObjectVersions>Some</IncludedObjectVersions>")]), "a", false, Some("InvalidArgument")),
            (doc(&[("OptionalFields", "<OptionalFields><Field>Owner</Field></OptionalFields>")]), "a", false, Some("InvalidArgument")),
            (doc(&[("Filter", "<Filter><Period><StartTime>x</StartTime></Period></Filter>")]), "a", false, Some("InvalidArgument")),
            (doc(&[("Filter", "<Filter><Period><StartTime>5</StartTime><EndTime>4</EndTime></Period></Filter>")]), "a", false, Some("InvalidArgument")),
        ];
        for (body, id, job, want) in cases {
            let got = parse_tree(body.as_bytes()).and_then(|t| validate(&t, id, job));
            match want {
                None => assert!(
                    got.is_ok(),
                    "{body}: {:?}",
                    got.err().map(|e| e.message().to_string())
                ),
                Some(code) => assert_eq!(got.err().map(|e| e.code.as_str()), Some(code), "{body}"),
            }
        }
        assert_eq!(
            parse_tree(b"<a><b></a>").unwrap_err().code.as_str(),
            "MalformedXML"
        );
        assert!(valid_id("ID-0_a.b") && !valid_id("") && !valid_id("a/b"));
    }

    fn rec(size: u64, etag: &str) -> ObjectRecord {
        ObjectRecord {
            size,
            etag: etag.into(),
            crc64: 42,
            last_modified_ms: 1_700_000_000_123,
            headers: crate::storage::ObjectHeaders {
                user_meta: vec![("color".into(), "dark blue".into())],
                ..Default::default()
            },
            storage_class: "STANDARD".into(),
            segments: vec![],
            restore: None,
            sse: None,
            checksum: None,
            version_id: None,
            delete_marker: false,
            acl: None,
            tags: vec![("team".into(), "a b".into())],
            replication_status: None,
            corrupt: None,
            appendable: false,
            retain_until_ms: None,
            symlink_target: None,
        }
    }

    #[test]
    fn csv_rendering() {
        let body = doc(&[("OptionalFields", "<OptionalFields><Field>Size</Field><Field>LastModifiedDate</Field><Field>ETag</Field><Field>StorageClass</Field><Field>IsMultipartUploaded</Field><Field>ReplicationStatus</Field><Field>Tag</Field><Field>Crc64</Field><Field>x-cos-meta-color</Field><Field>x-cos-meta-*</Field></OptionalFields>")]);
        let spec = validate(&parse_tree(body.as_bytes()).unwrap(), "a", false).unwrap();
        let row = Row {
            key: "dir/a b+ü,\".txt".into(),
            record: rec(5, "abc-2"),
            latest: None,
        };
        assert_eq!(
            cells(&spec, "1250000000", "src", &row),
            [
                "1250000000",
                "src",
                "dir/a%20b%2B%C3%BC%2C%22.txt",
                "5",
                "2023-11-14T22:13:20.123Z",
                "abc-2",
                "STANDARD",
                "true",
                "",
                "team=a%20b",
                "42",
                "dark%20blue",
                "color=dark%20blue",
            ]
        );
        // Gzip + CSV quoting round trip.
        let mut quoted = cells(&spec, "1", "src", &row);
        quoted[0] = "a\"b".into();
        quoted[1] = "c,d".into();
        let table = vec![cells(&spec, "1", "src", &row), quoted];
        let gz = csv_gz(&table).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
            .unwrap();
        let mut lines = text.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("\"1\",\"src\",\"dir/a%20b"));
        assert!(lines
            .next()
            .unwrap()
            .starts_with("\"a\"\"b\",\"c,d\",\"dir/"));
        // All versions: version columns, delete markers without values.
        let all = doc(&[
            (
                "IncludedObjectVersions",
                "<IncludedObjectVersions>All</IncludedObjectVersions>",
            ),
            (
                "OptionalFields",
                "<OptionalFields><Field>Size</Field></OptionalFields>",
            ),
        ]);
        let spec = validate(&parse_tree(all.as_bytes()).unwrap(), "a", false).unwrap();
        let mut marker = rec(0, "");
        marker.delete_marker = true;
        marker.version_id = Some("v1".into());
        let row = Row {
            key: "k".into(),
            record: marker,
            latest: Some(true),
        };
        assert_eq!(
            cells(&spec, "1", "b", &row),
            ["1", "b", "k", "v1", "true", "true", ""]
        );
    }

    #[test]
    fn filters() {
        let body = doc(&[("Filter", "<Filter><And><Prefix>p/</Prefix><Tag><Key>team</Key><Value>a b</Value></Tag></And><Period><StartTime>1700000000</StartTime><EndTime>1700000001</EndTime></Period></Filter>")]);
        let spec = validate(&parse_tree(body.as_bytes()).unwrap(), "a", false).unwrap();
        let row = |k: &str, r: ObjectRecord| Row {
            key: k.into(),
            record: r,
            latest: None,
        };
        assert!(matches(&spec, &row("p/x", rec(1, "e"))));
        assert!(!matches(&spec, &row("q/x", rec(1, "e"))));
        let mut untagged = rec(1, "e");
        untagged.tags.clear();
        assert!(!matches(&spec, &row("p/x", untagged)));
        let mut late = rec(1, "e");
        late.last_modified_ms = 1_700_000_002_000;
        assert!(!matches(&spec, &row("p/x", late)));
    }

    #[test]
    fn schedule_slots() {
        let days = crate::clock::DayClock::new(Duration::from_secs(10), 0);
        // First slot: the boundary after creation.
        assert_eq!(due_slot(&days, "Daily", 3_000, None, 9_999), None);
        assert_eq!(due_slot(&days, "Daily", 3_000, None, 10_000), Some(10_000));
        assert_eq!(due_slot(&days, "Daily", 10_000, None, 15_000), None);
        // Then every day / 7 days; a long pause runs the latest slot once.
        assert_eq!(due_slot(&days, "Daily", 3_000, Some(10_000), 19_999), None);
        assert_eq!(
            due_slot(&days, "Daily", 3_000, Some(10_000), 20_500),
            Some(20_000)
        );
        assert_eq!(
            due_slot(&days, "Daily", 3_000, Some(10_000), 55_000),
            Some(50_000)
        );
        assert_eq!(due_slot(&days, "Weekly", 3_000, Some(10_000), 79_999), None);
        assert_eq!(
            due_slot(&days, "Weekly", 3_000, Some(10_000), 80_000),
            Some(80_000)
        );
    }

    #[test]
    fn report_paths() {
        let spec = validate(&parse_tree(doc(&[]).as_bytes()).unwrap(), "a", false).unwrap();
        assert_eq!(
            report_root(&spec, "1250000000", "src"),
            "inventory_report/1250000000/src/a"
        );
        let mut s2 = spec.clone();
        s2.dest_prefix = Some("cos_bucket_inventory/".into());
        assert_eq!(
            report_root(&s2, "1250000000", "examplebucket"),
            "cos_bucket_inventory/1250000000/examplebucket/a"
        );
        // 2022-11-20T15:59:59Z is 23:59:59 in Beijing; a second later is the 21st.
        assert_eq!(date_of(1_668_959_999_000), "20221120");
        assert_eq!(date_of(1_668_960_000_000), "20221121");
    }
}
