//! The one integration-test binary (STYLE habit 11).
mod acl;
mod backend_conformance;
mod common;
mod crash;
mod dialects;
mod errors;
mod hostile;
mod objects;
mod oss;
mod presign;
mod readme;
mod s3_auth;
mod s3_rust_sdk;
mod sse;
mod versions;
mod wire;
