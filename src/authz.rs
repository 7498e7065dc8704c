//! Authorization: after `auth::verify` said who is calling (a key or
//! anonymous) and `route::resolve` said what they want, decide whether they
//! may (spec cos.md §1.10 step 7, §3.4, §4.4 step 6, §6A.10, §6A.11).
//!
//! * An unscoped key is the owner and may do everything.
//! * A scoped key (config `buckets` / `access`) may use only its buckets, and
//!   only read when `read-only`. ListBuckets is filtered, not refused.
//! * Anonymous callers get what the ACLs grant to everyone: objects by the
//!   object's ACL (`default` falls back to the bucket's), everything else by
//!   the bucket's. Listing buckets, creating and deleting buckets are never
//!   anonymous, and an anonymous GET/HEAD with a `response-*` parameter is
//!   refused (cos.md §4.4 step 6, [REC]).
//!
//! * The bucket policy (`bucket_config::policy`) is evaluated for every
//!   caller: an explicit deny refuses anyone (the owner keeps `?policy`
//!   itself), an allow grants an anonymous caller what the ACLs refuse.
//!
//! The decisions ([`key_allows`], [`anonymous_allows`],
//! `policy::Compiled::evaluate`) are pure; [`check`] loads the ACLs an
//! anonymous decision needs and the parsed policy (`bucket_config::cache`).

use http::HeaderMap;

use crate::acl::{Acl, AclKind, Permission};
use crate::auth::Scope;
use crate::bucket_config::policy::{self, Decision, Request as PolicyRequest, Requester};
use crate::error::{Error, ErrorCode, Result};
use crate::http::header;
use crate::http::query::Query;
use crate::http::target::{BucketName, ObjectKey};
use crate::op::AppState;
use crate::route::Operation;
use crate::storage::{StorageError, Store};

/// What an operation needs, and on what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need<'a> {
    /// GET Service: any key (filtered by scope), never anonymous.
    ListBuckets,
    /// Create or delete a bucket: owner-level, never anonymous.
    ManageBucket(&'a BucketName),
    /// A permission on a bucket (its data or its ACL).
    Bucket(&'a BucketName, Permission),
    /// A permission on an object (its data or its ACL).
    Object(&'a BucketName, &'a ObjectKey, Permission),
}

impl Need<'_> {
    fn bucket(&self) -> Option<&BucketName> {
        match self {
            Need::ListBuckets => None,
            Need::ManageBucket(b) | Need::Bucket(b, _) | Need::Object(b, _, _) => Some(b),
        }
    }
}

/// The need of each operation. Writes to objects need WRITE on the bucket
/// (as on COS, an object's ACL governs reading it and its ACL, not writing).
pub fn need(op: &Operation) -> Need<'_> {
    use Permission::{Read, ReadAcp, Write, WriteAcp};
    match op {
        Operation::ListBuckets => Need::ListBuckets,
        Operation::CreateBucket(b) | Operation::DeleteBucket(b) => Need::ManageBucket(b),
        Operation::PutBucketVersioning(b) => Need::ManageBucket(b),
        Operation::HeadBucket(b)
        | Operation::ListObjects(b)
        | Operation::ListObjectsV2(b)
        | Operation::GetBucketLocation(b)
        | Operation::ListObjectVersions(b)
        | Operation::GetBucketVersioning(b)
        | Operation::ListMultipartUploads(b)
        | Operation::ListParts(b, _) => Need::Bucket(b, Read),
        Operation::GetBucketAcl(b) | Operation::GetBucketConfig(b, _) => Need::Bucket(b, ReadAcp),
        Operation::PutBucketConfig(b, _) | Operation::DeleteBucketConfig(b, _) => {
            Need::Bucket(b, WriteAcp)
        }
        Operation::PutBucketAcl(b) => Need::Bucket(b, WriteAcp),
        Operation::DeleteObjects(b)
        | Operation::PutObject(b, _)
        | Operation::AppendObject(b, _)
        | Operation::CopyObject(b, _)
        | Operation::DeleteObject(b, _)
        | Operation::RestoreObject(b, _)
        | Operation::PutObjectTagging(b, _)
        | Operation::DeleteObjectTagging(b, _)
        | Operation::PutObjectRetention(b, _)
        | Operation::PutSymlink(b, _)
        | Operation::InitiateMultipartUpload(b, _)
        | Operation::UploadPart(b, _)
        | Operation::UploadPartCopy(b, _)
        | Operation::CompleteMultipartUpload(b, _)
        | Operation::AbortMultipartUpload(b, _)
        | Operation::PostObject(b) => Need::Bucket(b, Write),
        Operation::GetObject(b, k)
        | Operation::HeadObject(b, k)
        | Operation::GetObjectTagging(b, k)
        | Operation::GetObjectRetention(b, k)
        | Operation::GetSymlink(b, k) => Need::Object(b, k, Read),
        Operation::GetObjectAcl(b, k) => Need::Object(b, k, ReadAcp),
        Operation::PutObjectAcl(b, k) => Need::Object(b, k, WriteAcp),
    }
}

/// A key's decision: its buckets, and no writes when read-only.
pub fn key_allows(scope: &Scope, need: &Need<'_>) -> bool {
    if let Some(b) = need.bucket() {
        if !scope.covers_bucket(b.as_str()) {
            return false;
        }
    }
    let writes = match need {
        Need::ListBuckets => false,
        Need::ManageBucket(_) => true,
        Need::Bucket(_, p) | Need::Object(_, _, p) => {
            !matches!(p, Permission::Read | Permission::ReadAcp)
        }
    };
    !(writes && scope.read_only)
}

/// An anonymous caller's decision from the ACLs (`bucket`: the bucket's,
/// implicit private when never set; `object`: the object's when the need is
/// on an existing object, `None` otherwise).
pub fn anonymous_allows(need: &Need<'_>, bucket: &Acl, object: Option<&Acl>) -> bool {
    match need {
        Need::ListBuckets | Need::ManageBucket(_) => false,
        Need::Bucket(_, p) => bucket.allows_everyone(*p),
        Need::Object(_, _, p) => match object {
            Some(o) if !o.inherits() => o.allows_everyone(*p),
            Some(o) => o.allows_everyone(*p) || bucket.allows_everyone(*p),
            None => bucket.allows_everyone(*p),
        },
    }
}

fn denied() -> Error {
    Error::with_message(ErrorCode::AccessDenied, "Access Denied.")
}

/// The client's address, put in each request's extensions by the server
/// (the bucket policy's `qcs:ip` condition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub std::net::SocketAddr);

/// Who is calling: the signing key (SecretId and scope; `None`: anonymous)
/// and from where.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    pub key: Option<(&'a str, &'a Scope)>,
    pub peer: Option<std::net::IpAddr>,
}

/// The object key an operation acts on (the policy resource's key part).
fn op_key(op: &Operation) -> Option<&ObjectKey> {
    match op {
        Operation::PutObject(_, k)
        | Operation::AppendObject(_, k)
        | Operation::CopyObject(_, k)
        | Operation::GetObject(_, k)
        | Operation::HeadObject(_, k)
        | Operation::DeleteObject(_, k)
        | Operation::RestoreObject(_, k)
        | Operation::GetObjectAcl(_, k)
        | Operation::PutObjectAcl(_, k)
        | Operation::GetObjectTagging(_, k)
        | Operation::PutObjectTagging(_, k)
        | Operation::DeleteObjectTagging(_, k)
        | Operation::InitiateMultipartUpload(_, k)
        | Operation::UploadPart(_, k)
        | Operation::UploadPartCopy(_, k)
        | Operation::CompleteMultipartUpload(_, k)
        | Operation::AbortMultipartUpload(_, k)
        | Operation::ListParts(_, k)
        | Operation::GetObjectRetention(_, k)
        | Operation::PutObjectRetention(_, k)
        | Operation::GetSymlink(_, k)
        | Operation::PutSymlink(_, k) => Some(k),
        _ => None,
    }
}

/// The APPID of a bucket's owner: the name's numeric suffix, else the
/// configured one (NOTES 7).
fn bucket_appid<'a>(bucket: &'a str, configured: &'a str) -> &'a str {
    match bucket.rsplit_once('-') {
        Some((_, s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s,
        _ => configured,
    }
}

/// The bucket policy's verdict on one need (`NotApplicable` without a
/// bucket, a policy, or for a missing bucket).
#[allow(clippy::too_many_arguments)]
async fn policy_decision(
    state: &AppState,
    caller: &Caller<'_>,
    bucket: Option<&BucketName>,
    action: &str,
    key: Option<&ObjectKey>,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Decision> {
    let Some(bucket) = bucket else {
        return Ok(Decision::NotApplicable);
    };
    let Some(view) = state.views.get(&state.store, bucket.as_str()).await? else {
        return Ok(Decision::NotApplicable);
    };
    let Some(policy) = &view.policy else {
        return Ok(Decision::NotApplicable);
    };
    let requester = match caller.key {
        None => Requester::Anonymous,
        Some((secret_id, scope)) => Requester::Key {
            secret_id,
            owner: scope.is_owner(),
        },
    };
    Ok(policy.evaluate(&PolicyRequest {
        requester,
        action,
        region: &view.region,
        appid: bucket_appid(bucket.as_str(), &state.config.addressing.appid),
        bucket: bucket.as_str(),
        key: key.map(ObjectKey::as_str),
        ip: caller.peer,
        secure: false,
        headers,
        query,
    }))
}

/// Decides for one request.
/// # Behavior
/// - Anonymous: `response-*` parameters refused; the referer rule; then
///   the bucket policy (a deny refuses, an allow grants), else the ACLs (a
///   missing bucket is `NoSuchBucket`, as COS answers).
/// - Keys: a bucket-policy deny refuses (the owner keeps `?policy` itself);
///   otherwise the key's scope decides (an allow does not widen it).
/// - A copy also needs GetObject/READ on the source.
pub async fn check(
    state: &AppState,
    caller: &Caller<'_>,
    op: &Operation,
    query: &Query,
    headers: &HeaderMap,
    family: crate::auth::Family,
) -> Result<()> {
    check_keyed(state, caller, op, None, query, headers, family).await
}

/// [`check`] for an operation whose object key is known only to its
/// handler: POST Object names its key in the form, so the bucket policy
/// is evaluated on `key` (a deny on `private/*` covers form uploads too).
pub async fn check_keyed(
    state: &AppState,
    caller: &Caller<'_>,
    op: &Operation,
    key: Option<&ObjectKey>,
    query: &Query,
    headers: &HeaderMap,
    family: crate::auth::Family,
) -> Result<()> {
    let store = &state.store;
    let addressing = &state.config.addressing;
    let need = need(op);
    let copy_source = match op {
        Operation::CopyObject(..) | Operation::UploadPartCopy(..) => {
            header::get(headers, header::X_COS_COPY_SOURCE).and_then(|s| {
                crate::op::parse_copy_source(s, &addressing.appid, &addressing.region, family).ok()
            })
        }
        _ => None,
    };
    let source_need = copy_source
        .as_ref()
        .map(|s| Need::Object(&s.bucket, &s.key, Permission::Read));
    if caller.key.is_none() {
        let is_object_read = matches!(op, Operation::GetObject(..) | Operation::HeadObject(..));
        if is_object_read
            && query
                .pairs()
                .iter()
                .any(|(k, _)| k.starts_with("response-"))
        {
            return Err(Error::with_message(
                ErrorCode::AccessDenied,
                "Anonymous requests cannot use response-* parameters.",
            ));
        }
        // Hotlink protection applies to anonymous requests only (cos-bucket.md §2).
        if let Some(b) = need.bucket() {
            if let Some(view) = state.views.get(store, b.as_str()).await? {
                if view.referer.as_ref().is_some_and(|r| !r.allows(headers)) {
                    return Err(Error::with_message(
                        ErrorCode::AccessDenied,
                        "Access Denied. Referer is not allowed.",
                    ));
                }
            }
        }
    }
    // The bucket policy (cos-bucket.md §3.2): an explicit deny wins.
    let owner = caller.key.is_some_and(|(_, s)| s.is_owner());
    let mut policy_allows = [false, false];
    if !(owner && policy::is_policy_call(op)) {
        let main = (need.bucket(), policy::action_of(op), key.or(op_key(op)));
        let source = copy_source
            .as_ref()
            .map(|s| (Some(&s.bucket), "GetObject".into(), Some(&s.key)));
        for (i, (bucket, action, key)) in std::iter::once(main).chain(source).enumerate() {
            match policy_decision(state, caller, bucket, &action, key, query, headers).await? {
                Decision::Deny => return Err(denied()),
                Decision::Allow => policy_allows[i] = true,
                Decision::NotApplicable => {}
            }
        }
    }
    let Some((_, scope)) = caller.key else {
        for (i, n) in std::iter::once(need).chain(source_need).enumerate() {
            let granted = policy_allows[i] && matches!(n, Need::Bucket(..) | Need::Object(..));
            if !granted && !anonymous_check(store, &n).await? {
                return Err(denied());
            }
        }
        return Ok(());
    };
    if scope.is_owner() {
        return Ok(());
    }
    for n in std::iter::once(need).chain(source_need) {
        if !key_allows(scope, &n) {
            return Err(denied());
        }
    }
    Ok(())
}

async fn anonymous_check(store: &Store, need: &Need<'_>) -> Result<bool> {
    let Some(bucket) = need.bucket() else {
        return Ok(false);
    };
    if matches!(need, Need::ManageBucket(_)) {
        return Ok(false);
    }
    let Some(rec) = store.bucket(bucket.as_str()).await? else {
        return Err(Error::new(ErrorCode::NoSuchBucket));
    };
    let bucket_acl = rec.acl.unwrap_or_else(|| Acl::implicit(AclKind::Bucket));
    let object_acl = match need {
        Need::Object(b, k, _) => match store.head_object(b.as_str(), k.as_str()).await {
            Ok(o) => Some(o.acl.unwrap_or_else(|| Acl::implicit(AclKind::Object))),
            Err(StorageError::NoSuchKey) => None,
            Err(e) => return Err(e.into()),
        },
        _ => None,
    };
    Ok(anonymous_allows(need, &bucket_acl, object_acl.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{CannedAcl, Grant, Grantee, ANYONE_ID};

    fn b(name: &str) -> BucketName {
        BucketName::parse(name, "1250000000", "ap-guangzhou").unwrap()
    }

    #[test]
    fn scoped_keys_table() {
        let mine = b("mine");
        let other = b("other");
        let k = ObjectKey::parse("k").unwrap();
        let owner = Scope::default();
        let rw = Scope {
            buckets: Some(vec!["mine-1250000000".into()]),
            read_only: false,
        };
        let ro = Scope {
            buckets: Some(vec!["mine-1250000000".into()]),
            read_only: true,
        };
        let ro_all = Scope {
            buckets: None,
            read_only: true,
        };
        use Permission::*;
        let cases: Vec<(Need<'_>, [bool; 4])> = vec![
            // need                                  owner  rw     ro     ro_all
            (Need::ListBuckets, [true, true, true, true]),
            (Need::ManageBucket(&mine), [true, true, false, false]),
            (Need::ManageBucket(&other), [true, false, false, false]),
            (Need::Bucket(&mine, Read), [true, true, true, true]),
            (Need::Bucket(&mine, Write), [true, true, false, false]),
            (Need::Bucket(&mine, ReadAcp), [true, true, true, true]),
            (Need::Bucket(&mine, WriteAcp), [true, true, false, false]),
            (Need::Bucket(&other, Read), [true, false, false, true]),
            (Need::Object(&mine, &k, Read), [true, true, true, true]),
            (
                Need::Object(&mine, &k, WriteAcp),
                [true, true, false, false],
            ),
            (Need::Object(&other, &k, Read), [true, false, false, true]),
        ];
        for (need, want) in cases {
            for (scope, want) in [&owner, &rw, &ro, &ro_all].into_iter().zip(want) {
                assert_eq!(key_allows(scope, &need), want, "{need:?} {scope:?}");
            }
        }
    }

    #[test]
    fn anonymous_table() {
        let bk = b("pub");
        let k = ObjectKey::parse("k").unwrap();
        let private = Acl::canned(CannedAcl::Private);
        let public_read = Acl::canned(CannedAcl::PublicRead);
        let public_rw = Acl::canned(CannedAcl::PublicReadWrite);
        let default = Acl::canned(CannedAcl::Default);
        let anyone_read_acp = Acl {
            canned: Some(CannedAcl::Default),
            grants: vec![Grant {
                grantee: Grantee::User {
                    id: ANYONE_ID.into(),
                },
                permission: Permission::ReadAcp,
            }],
        };
        use Permission::*;
        let get = Need::Object(&bk, &k, Read);
        let put = Need::Bucket(&bk, Write);
        let list = Need::Bucket(&bk, Read);
        let obj_acl = Need::Object(&bk, &k, ReadAcp);
        let manage = Need::ManageBucket(&bk);
        let cases: Vec<(&Need<'_>, &Acl, Option<&Acl>, bool)> = vec![
            // bucket ACL decides for bucket needs
            (&list, &private, None, false),
            (&list, &public_read, None, true),
            (&put, &public_read, None, false),
            (&put, &public_rw, None, true),
            // object reads: the object's ACL, `default` inherits
            (&get, &private, None, false),
            (&get, &public_read, None, true),
            (&get, &public_read, Some(&default), true),
            (&get, &public_read, Some(&private), false),
            (&get, &private, Some(&public_read), true),
            (&get, &private, Some(&default), false),
            (&get, &public_rw, Some(&default), true),
            // grants on a default object add to the bucket's
            (&obj_acl, &private, Some(&anyone_read_acp), true),
            (&obj_acl, &public_read, Some(&default), false),
            // never anonymous
            (&Need::ListBuckets, &public_rw, None, false),
            (&manage, &public_rw, None, false),
        ];
        for (need, bucket, object, want) in cases {
            assert_eq!(
                anonymous_allows(need, bucket, object),
                want,
                "{need:?} bucket {bucket:?} object {object:?}"
            );
        }
    }

    #[test]
    fn operations_map_to_needs() {
        let bk = b("x");
        let k = ObjectKey::parse("k").unwrap();
        use Permission::*;
        let cases = [
            (Operation::ListBuckets, Need::ListBuckets),
            (Operation::CreateBucket(bk.clone()), Need::ManageBucket(&bk)),
            (Operation::ListObjects(bk.clone()), Need::Bucket(&bk, Read)),
            (
                Operation::PutBucketAcl(bk.clone()),
                Need::Bucket(&bk, WriteAcp),
            ),
            (
                Operation::PutObject(bk.clone(), k.clone()),
                Need::Bucket(&bk, Write),
            ),
            (
                Operation::AppendObject(bk.clone(), k.clone()),
                Need::Bucket(&bk, Write),
            ),
            (
                Operation::HeadObject(bk.clone(), k.clone()),
                Need::Object(&bk, &k, Read),
            ),
            (
                Operation::GetObjectAcl(bk.clone(), k.clone()),
                Need::Object(&bk, &k, ReadAcp),
            ),
        ];
        for (op, want) in &cases {
            assert_eq!(need(op), *want, "{op:?}");
        }
    }
}
