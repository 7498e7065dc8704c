//! HTTP vocabulary: targets, query, headers, bodies. No business rules.
pub mod body;
pub mod header;
pub mod query;
pub mod sendfile;
pub mod target;
pub mod traffic;
