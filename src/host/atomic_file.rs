//! Replacing a file so that a reader, a crash or a failing disk (full, over a file-size
//! limit, read-only) never leaves a partial one: the bytes go to a temp file in the same
//! folder, which is fsynced and renamed over the target; on any failure the temp file is
//! removed and the target is left as it was.

use crate::error::{ElmanError, Result};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The temp file beside `path` (hidden, tagged with the process id).
fn temp_beside(path: &Path) -> (PathBuf, PathBuf) {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    (dir, tmp)
}

/// Writes what `fill` writes to `path` atomically. `fill`'s own errors pass through; an
/// I/O error anywhere is [`ElmanError::Write`] naming `path`.
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut BufWriter<std::fs::File>) -> Result<()>) -> Result<()> {
    let (dir, tmp) = temp_beside(path);
    let write_err = |source| ElmanError::Write { path: path.to_path_buf(), source };
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(write_err)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        fill(&mut out)?;
        let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
        file.sync_all().map_err(write_err)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(write_err)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            d.sync_all().ok();
        }
        Ok(())
    })();
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes).map_err(|source| ElmanError::Write { path: path.to_path_buf(), source }))
}

/// Appends `line` and a newline to `path`; if the write fails part-way the file is cut
/// back to its old length, so it never ends in half a line.
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    let write_err = |source| ElmanError::Write { path: path.to_path_buf(), source };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(write_err)?;
    let before = file.metadata().map_err(write_err)?.len();
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    if let Err(source) = file.write_all(&bytes) {
        file.set_len(before).ok();
        return Err(write_err(source));
    }
    Ok(())
}
