//! localcos: a Tencent COS-compatible object storage server.
//!
//! A request travels through the modules in this order:
//!
//! ```text
//! server (hyper accept loop, limits, exact header case)
//!   └─ service: Target::resolve (http::target) ─ auth::verify ─ route::resolve ─ authz::check
//!        └─ op::dispatch ─ Op handler (conditional, storage::Store)
//!             └─ render (headers, XML)  ── on failure: error::Error::into_response
//! ```
//!
//! `storage` is a transactional index (`MetaStore`) over immutable blobs
//! (`BlobStore`); see ARCHITECTURE.md for the whole map.

pub mod acl;
pub mod admin;
pub mod archive;
pub mod auth;
pub mod authz;
pub mod bucket_config;
pub mod bucket_settings;
pub mod clock;
pub mod conditional;
pub mod config;
pub mod console;
pub mod dialect;
pub mod error;
pub mod health;
pub mod http;
pub mod memcpy_fix;
pub mod metrics;
pub mod op;
pub mod origin;
pub mod render;
pub mod route;
pub mod server;
pub mod service;
pub mod storage;
pub mod testing;

pub use config::Config;
pub use testing::TestServer;
