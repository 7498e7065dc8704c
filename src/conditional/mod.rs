//! The conditional-request and Range evaluator for GET/HEAD Object (and the copy-source
//! conditions of Copy Object): RFC 9110 §13 (<https://www.rfc-editor.org/rfc/rfc9110#section-13>)
//! and §14 (<https://www.rfc-editor.org/rfc/rfc9110#section-14>), as COS GET Object uses them
//! (<https://cloud.tencent.com/document/product/436/7753>; cos.md §4.4 steps 4 and 5).
//!
//! Pure: no I/O, no `Response`, no clock. A GET/HEAD handler, after opening the object:
//!
//! ```text
//! Conditions::from_headers ─ evaluate(method, &conds, &Validators{etag, last_modified})
//!   ├─ PreconditionFailed → 412 PreconditionFailed (XML error)
//!   ├─ NotModified        → 304, no body, Content-Length: 0, ETag, x-cos-hash-crc64ecma
//!   └─ Proceed → RangeHeader::from_headers (skipped when IfRange::matches is false)
//!        ├─ None | Ignored          → 200, whole object
//!        └─ Single(r) → r.resolve(len)
//!             ├─ Ok(start..end)     → 206, Content-Range: range::content_range
//!             └─ Err(Unsatisfiable) → 416 InvalidRange, Content-Range: bytes */len
//! ```

pub mod etag;
pub mod precondition;
pub mod range;

pub use etag::{EntityTag, EtagList};
pub use precondition::{
    evaluate, evaluate_copy_source, ConditionHeaders, Conditions, Decision, IfRange, Validators,
};
pub use range::{ByteRange, RangeHeader, Unsatisfiable};

#[cfg(test)]
mod tests {
    /// `x-cos-hash-crc64ecma` is CRC-64/XZ (cos.md §4.2); `crc64fast::Digest` computes it.
    #[test]
    fn crc64fast_is_crc64_xz() {
        #[rustfmt::skip]
        let table: &[(&[u8], u64)] = &[
            (b"123456789",                  0x995D_C9BB_DF19_39FA), // the catalogue check value
            (b"",                           0),
            (b"[Object Content]",           16_749_565_679_157_681_890), // COS GET Object sample
            (b"[Object Content Version 2]", 11_596_229_263_574_363_878),
        ];
        for (input, want) in table {
            let mut digest = crc64fast::Digest::new();
            digest.write(input);
            assert_eq!(
                digest.sum64(),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
