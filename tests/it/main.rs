//! The one integration-test binary (STYLE habit 11).
mod common;
mod errors;
mod objects;
mod wire;
