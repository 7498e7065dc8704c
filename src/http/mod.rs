//! HTTP vocabulary: targets, query, headers, bodies. No business rules.
pub mod body;
