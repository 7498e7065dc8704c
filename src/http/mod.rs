//! HTTP vocabulary: targets, query, headers, bodies. No business rules.
pub mod access_log;
pub mod aws_chunked;
pub mod body;
pub mod checksum;
pub mod form;
pub mod header;
pub mod limits;
pub mod linger;
pub mod log_writer;
pub mod payload;
pub mod query;
pub mod sendfile;
pub mod shutdown;
pub mod target;
pub mod tls;
pub mod traffic;
