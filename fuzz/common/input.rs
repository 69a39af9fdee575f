//! Fuzz input split into fields by the byte 0xFF, which no UTF-8 text
//! contains, so seed corpora stay readable.

/// The fields of `data`, then empty fields forever.
pub fn fields(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == 0xff).chain(std::iter::repeat(&[][..]))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
