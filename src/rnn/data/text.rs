//! Reading text files with errors that name the file and, for bad UTF-8, the byte offset.

use crate::error::{ElmanError, Result};
use std::path::Path;

/// Reads a file's bytes; a missing or empty file is an error naming the path.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|source| ElmanError::Io { path: path.to_path_buf(), source })?;
    if bytes.is_empty() {
        return Err(ElmanError::EmptyInput { path: path.to_path_buf() });
    }
    Ok(bytes)
}

/// Reads a non-empty UTF-8 text file; invalid UTF-8 is an error naming the byte offset.
pub fn read_utf8(path: &Path) -> Result<String> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let byte = e.as_bytes()[offset];
        ElmanError::NotUtf8 { path: path.to_path_buf(), offset, byte, byte_tokenizer: true }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_utf8_names_offset_and_empty_is_refused() {
        let dir = std::env::temp_dir().join(format!("elman-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.txt");
        std::fs::write(&bad, b"abc\xffdef").unwrap();
        let msg = read_utf8(&bad).unwrap_err().to_string();
        assert!(msg.contains("byte offset 3") && msg.contains("0xff"), "{msg}");
        let empty = dir.join("empty.txt");
        std::fs::write(&empty, b"").unwrap();
        assert!(read_utf8(&empty).unwrap_err().to_string().contains("is empty"));
        assert!(read_utf8(&dir.join("missing.txt")).unwrap_err().to_string().contains("cannot read"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
