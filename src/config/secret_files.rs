//! The `*-file` forms of secrets (mounted Kubernetes secrets, Docker secrets).

use std::path::Path;

/// A secret file's bytes with trailing line breaks removed (editors and
/// `echo` add them; Kubernetes secrets often keep them).
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    let mut bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    Ok(bytes)
}

/// A secret file as UTF-8 text.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read(path)?).map_err(|_| "the file is not UTF-8".into())
}

/// The secrets in one file: one per line, blank lines ignored.
pub(crate) fn read_lines(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let bytes = read(path)?;
    Ok(bytes
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn secret_files_lose_trailing_newlines_only() {
        let f = write("  s3cret \r\n\n");
        assert_eq!(read(f.path()).unwrap(), b"  s3cret ");
        let empty = write("\n");
        assert_eq!(read(empty.path()).unwrap_err(), "the file is empty");
        let lines = write("first\r\n\nsecond\n");
        let got = read_lines(lines.path()).unwrap();
        assert_eq!(got, vec![b"first".to_vec(), b"second".to_vec()]);
    }
}
