//! The one integration-test binary (STYLE habit 11).
mod acl;
mod archive;
mod backend_conformance;
mod common;
mod crash;
mod errors;
mod hostile;
mod objects;
mod origin;
mod presign;
mod readme;
mod s3_auth;
mod sse;
mod traffic;
mod versions;
mod wire;
