//! The identity's header values, percent-encoded once per session.
//!
//! Encoding (the rules are in [`crate::proxy::headers`]) and copying six
//! values into fresh header values on every request showed up in the
//! profile; a session's identity does not change until it is refreshed, so
//! the encoded values are kept with the session in ONE buffer, and a request
//! only takes slices of it (a reference count, no copy, one cache line or two
//! instead of six strings at a million sessions).

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use http::HeaderValue;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use tracing::warn;

use crate::identity::Identity;

/// Largest identity header value sent upstream, in bytes after encoding.
pub const MAX_VALUE_BYTES: usize = 8 * 1024;

/// How many times a groups header lost groups to [`MAX_VALUE_BYTES`]
/// (counted when an identity is encoded: once per session in memory).
pub static GROUPS_TRUNCATED: AtomicU64 = AtomicU64::new(0);

/// Bytes encoded besides non-ASCII: the escape itself and the list separator.
const ENCODE: &AsciiSet = &CONTROLS.add(b'%').add(b',');

/// One identity value sent upstream, in the order they sit in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Email = 0,
    Name,
    Sub,
    Username,
    Groups,
    Provider,
}

const SLOTS: usize = 6;
const LABELS: [&str; SLOTS] = ["email", "name", "sub", "username", "groups", "provider"];

/// The encoded values of one identity, back to back in one buffer.
#[derive(Clone, Debug, Default)]
pub struct IdentityValues {
    buf: Bytes,
    /// Where each slot's value ends in `buf` (it starts where the previous ends).
    ends: [u16; SLOTS],
    /// A bit per slot to send; unset: no email, no provider, or over the cap.
    present: u8,
}

impl IdentityValues {
    pub fn encode(identity: &Identity) -> Self {
        let values: [Option<Cow<'_, str>>; SLOTS] = [
            identity.email.as_deref().map(encode_value),
            Some(encode_value(&identity.name)),
            Some(encode_value(&identity.sub)),
            Some(encode_value(&identity.username)),
            Some(Cow::Owned(encode_groups(&identity.groups))),
            (!identity.provider.is_empty()).then(|| encode_value(&identity.provider)),
        ];
        let kept = |v: &Cow<'_, str>| v.len() <= MAX_VALUE_BYTES;
        let total = values.iter().flatten().filter(|v| kept(v)).map(|v| v.len());
        let mut buf = Vec::with_capacity(total.sum());
        let mut out = Self::default();
        for (slot, value) in values.iter().enumerate() {
            match value {
                Some(v) if kept(v) => {
                    buf.extend_from_slice(v.as_bytes());
                    out.present |= 1 << slot;
                }
                Some(v) => {
                    let value = LABELS[slot];
                    warn!(
                        value,
                        len = v.len(),
                        "identity value over the header cap; not sent"
                    );
                }
                None => {}
            }
            // At most SLOTS * MAX_VALUE_BYTES (48 KiB) in all.
            out.ends[slot] = u16::try_from(buf.len()).unwrap_or(u16::MAX);
        }
        out.buf = Bytes::from(buf);
        out
    }

    /// The header value of `slot`, or `None` when it is not to be sent.
    pub fn get(&self, slot: Slot) -> Option<HeaderValue> {
        let i = slot as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p]);
        let (start, end) = (usize::from(start), usize::from(self.ends[i]));
        if start > end || end > self.buf.len() {
            return None;
        }
        // Encoded values are printable ASCII, so this only fails on a bug; fail closed.
        HeaderValue::from_maybe_shared(self.buf.slice(start..end)).ok()
    }
}

/// [`IdentityValues`] made on first use and kept. A clone starts empty, so
/// a session copied to change its identity (a refresh) never carries the old
/// values; an identity must not change after its values were taken.
#[derive(Default)]
pub struct EncodedOnce(OnceLock<IdentityValues>);

impl EncodedOnce {
    pub fn get_or_encode(&self, identity: &Identity) -> &IdentityValues {
        self.0.get_or_init(|| IdentityValues::encode(identity))
    }

    pub fn get(&self) -> Option<&IdentityValues> {
        self.0.get()
    }
}

impl Clone for EncodedOnce {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for EncodedOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncodedOnce")
    }
}

/// Percent-encodes controls, `%`, `,`, non-ASCII and spaces at either end
/// (see [`crate::proxy::headers`]). A value with nothing to change, the
/// usual case, is borrowed as is.
pub fn encode_value(raw: &str) -> Cow<'_, str> {
    let unchanged = |b: &u8| matches!(b, b' '..=b'~') && *b != b'%' && *b != b',';
    let edge_space = raw.starts_with(' ') || raw.ends_with(' ');
    if !edge_space && raw.as_bytes().iter().all(unchanged) {
        return Cow::Borrowed(raw);
    }
    let inner = raw.trim_matches(' ');
    let leading = raw.len() - raw.trim_start_matches(' ').len();
    let trailing = if inner.is_empty() {
        0
    } else {
        raw.len() - raw.trim_end_matches(' ').len()
    };
    let mut encoded = String::with_capacity(raw.len() + 16);
    encoded.push_str(&"%20".repeat(leading));
    encoded.extend(utf8_percent_encode(inner, ENCODE));
    encoded.push_str(&"%20".repeat(trailing));
    Cow::Owned(encoded)
}

/// Encoded group names joined with `,`, whole groups dropped from the end past the cap.
pub(crate) fn encode_groups(groups: &[String]) -> String {
    let mut out = String::new();
    let mut kept = 0usize;
    for group in groups {
        let encoded = encode_value(group);
        if encoded.is_empty() {
            kept += 1;
            continue;
        }
        let separator = usize::from(!out.is_empty());
        if out.len() + separator + encoded.len() > MAX_VALUE_BYTES {
            GROUPS_TRUNCATED.fetch_add(1, Ordering::Relaxed);
            warn!(
                groups = groups.len(),
                kept,
                cap = MAX_VALUE_BYTES,
                "identity groups exceed the header cap; dropped the last groups"
            );
            break;
        }
        if separator == 1 {
            out.push(',');
        }
        out.push_str(&encoded);
        kept += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            sub: "0b1c-42".into(),
            email: Some("jose@example.com".into()),
            name: "José Núñez".into(),
            username: "jose".into(),
            groups: vec!["admins".into(), "r&d, east".into()],
            provider: "staff".into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_slot_is_its_own_encoded_value() {
        let values = IdentityValues::encode(&identity());
        let got = |slot| values.get(slot).unwrap();
        assert_eq!(got(Slot::Email), "jose@example.com");
        assert_eq!(got(Slot::Name), "Jos%C3%A9 N%C3%BA%C3%B1ez");
        assert_eq!(got(Slot::Sub), "0b1c-42");
        assert_eq!(got(Slot::Username), "jose");
        assert_eq!(got(Slot::Groups), "admins,r&d%2C east");
        assert_eq!(got(Slot::Provider), "staff");
    }

    #[test]
    fn absent_and_over_long_values_are_not_sent_but_empty_groups_are() {
        let mut who = identity();
        who.email = None;
        who.provider = String::new();
        who.groups = vec![];
        who.name = "é".repeat(MAX_VALUE_BYTES);
        let values = IdentityValues::encode(&who);
        assert_eq!(values.get(Slot::Email), None);
        assert_eq!(values.get(Slot::Provider), None);
        assert_eq!(values.get(Slot::Name), None);
        assert_eq!(values.get(Slot::Groups).unwrap(), "");
        assert_eq!(values.get(Slot::Sub).unwrap(), "0b1c-42");
    }

    #[test]
    fn a_clone_forgets_the_values_so_a_changed_copy_cannot_send_old_ones() {
        let once = EncodedOnce::default();
        let mut who = identity();
        assert_eq!(once.get_or_encode(&who).get(Slot::Sub).unwrap(), "0b1c-42");
        let copy = once.clone();
        who.sub = "other".into();
        assert!(copy.get().is_none());
        assert_eq!(copy.get_or_encode(&who).get(Slot::Sub).unwrap(), "other");
    }
}
