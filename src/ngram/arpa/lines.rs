//! A line-numbered block reader for ARPA text: hands out runs of whole lines from a
//! fixed buffer (so a file is never held whole), one line at a time for the header and a
//! block at a time for the n-gram sections, which are parsed in parallel.

use crate::error::{ElmanError, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Bytes read ahead; a longer line grows the buffer to fit it.
const BLOCK: usize = 4 << 20;

pub struct BlockLines<R> {
    source: R,
    pub path: PathBuf,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Lines consumed so far (the next line is `consumed + 1`).
    consumed: usize,
    /// Bytes consumed so far.
    offset: usize,
}

/// What `found` shows in an error: the text, cut at 60 characters.
pub fn shown(found: &str) -> String {
    if found.chars().count() > 60 {
        format!("{:?}…", found.chars().take(60).collect::<String>())
    } else {
        format!("{found:?}")
    }
}

impl<R: Read> BlockLines<R> {
    /// Reads `source`; `size` (when known) keeps the buffer no larger than the input.
    pub fn new(source: R, size: Option<u64>, path: &Path) -> Self {
        Self::with_buffer(source, size.map_or(BLOCK, |s| (s as usize).saturating_add(1).clamp(64, BLOCK)), path)
    }

    /// Reads `source` through a buffer of `capacity` bytes (grown for a longer line).
    pub fn with_buffer(source: R, capacity: usize, path: &Path) -> Self {
        BlockLines { source, path: path.to_path_buf(), buf: vec![0; capacity.max(1)], start: 0, end: 0, eof: false, consumed: 0, offset: 0 }
    }

    /// An ARPA format error at `line`.
    pub fn error(&self, line: usize, expected: &str, found: &str) -> ElmanError {
        ElmanError::Arpa { path: self.path.clone(), line, expected: expected.to_string(), found: shown(found) }
    }

    fn io(&self, source: std::io::Error) -> ElmanError {
        ElmanError::Io { path: self.path.clone(), source }
    }

    /// Number of the next line to be handed out.
    pub fn next_line_number(&self) -> usize {
        self.consumed + 1
    }

    /// Moves the unread bytes to the front and reads until the buffer is full or the
    /// source ends.
    fn fill(&mut self) -> Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end < self.buf.len() && !self.eof {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
        Ok(())
    }

    /// The unread whole lines (the last one may lack its newline at the end of the file);
    /// empty only at the end of the file. Checked to be UTF-8.
    pub fn block(&mut self) -> Result<&str> {
        if !self.eof && self.end - self.start < self.buf.len() / 2 {
            self.fill()?;
        }
        loop {
            let unread = &self.buf[self.start..self.end];
            if let Some(last) = unread.iter().rposition(|&b| b == b'\n') {
                return self.checked(last + 1);
            }
            if self.eof {
                return self.checked(unread.len());
            }
            if self.start == 0 && self.end == self.buf.len() {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
            self.fill()?;
        }
    }

    fn checked(&self, len: usize) -> Result<&str> {
        let bytes = &self.buf[self.start..self.start + len];
        std::str::from_utf8(bytes).map_err(|e| ElmanError::NotUtf8 {
            path: self.path.clone(),
            offset: self.offset + e.valid_up_to(),
            byte: bytes[e.valid_up_to()],
            byte_tokenizer: false,
        })
    }

    /// Marks the first `bytes` of the current block as read.
    pub fn consume(&mut self, bytes: usize) {
        let done = &self.buf[self.start..self.start + bytes];
        self.consumed += done.iter().filter(|&&b| b == b'\n').count();
        self.start += bytes;
        self.offset += bytes;
    }

    /// The next line (without its line break) and its number, or an error naming what was
    /// `expected` at the end of the file.
    pub fn next(&mut self, expected: &str) -> Result<(usize, String)> {
        let number = self.next_line_number();
        let block = self.block()?;
        if block.is_empty() {
            return Err(self.error(number, expected, "end of file"));
        }
        let len = block.find('\n').map_or(block.len(), |at| at + 1);
        let line = block[..len].trim_end_matches('\n').trim_end_matches('\r').to_string();
        self.consume(len);
        Ok((number, line))
    }

    /// The next line that is not blank.
    pub fn next_non_blank(&mut self, expected: &str) -> Result<(usize, String)> {
        loop {
            let (number, line) = self.next(expected)?;
            if !line.trim().is_empty() {
                return Ok((number, line));
            }
        }
    }
}
