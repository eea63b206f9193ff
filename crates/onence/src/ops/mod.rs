//! One module per spec: each operation is a method on [`crate::Client`].

pub mod orders;
pub mod sims_v1;
pub mod sims_v2;

/// Percent-encodes one path segment (ICCIDs are digits, but never trust input).
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
