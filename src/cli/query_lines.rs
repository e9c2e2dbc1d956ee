//! KenLM's `query` layout, written without `fmt`: per token `token=id [length] log10`
//! tab-separated, then `Total: log10 OOV: count` — a line at a time into a buffer, the
//! numbers through zmij (shortest round-trip floats) and itoa. `ngram query` and `query`
//! print with it.

use std::io::Write;

/// One output line being built.
pub struct QueryLine {
    line: Vec<u8>,
    float: zmij::Buffer,
    int: itoa::Buffer,
}

impl Default for QueryLine {
    fn default() -> Self {
        QueryLine { line: Vec::with_capacity(1 << 12), float: zmij::Buffer::new(), int: itoa::Buffer::new() }
    }
}

impl QueryLine {
    /// `token=id length log10\t`, or `token=id log10\t` without a length.
    pub fn token(&mut self, shown: &str, id: u32, length: Option<usize>, log10: f32) {
        self.line.extend_from_slice(shown.as_bytes());
        self.line.push(b'=');
        self.line.extend_from_slice(self.int.format(id).as_bytes());
        if let Some(length) = length {
            self.line.push(b' ');
            self.line.extend_from_slice(self.int.format(length).as_bytes());
        }
        self.line.push(b' ');
        self.line.extend_from_slice(self.float.format(log10).as_bytes());
        self.line.push(b'\t');
    }

    /// Ends the line with `Total: log10 OOV: count` and writes it to `out`.
    pub fn finish(&mut self, out: &mut impl Write, total: f32, oov: u64) -> std::io::Result<()> {
        self.line.extend_from_slice(b"Total: ");
        self.line.extend_from_slice(self.float.format(total).as_bytes());
        self.line.extend_from_slice(b" OOV: ");
        self.line.extend_from_slice(self.int.format(oov).as_bytes());
        self.line.push(b'\n');
        out.write_all(&self.line)?;
        self.line.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_kenlms_and_numbers_round_trip() {
        let mut line = QueryLine::default();
        let mut out = Vec::new();
        line.token("the", 3, Some(2), -0.3);
        line.token("dog", 0, Some(1), -100.3);
        line.token("<U+0020>", 7, None, f32::NEG_INFINITY);
        line.finish(&mut out, -101.9, 1).unwrap();
        line.token("x", 12, Some(5), -1.234_567_9e-7);
        line.finish(&mut out, -1.234_567_9e-7, 0).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), "the=3 2 -0.3\tdog=0 1 -100.3\t<U+0020>=7 -inf\tTotal: -101.9 OOV: 1");
        let second = lines.next().unwrap();
        let value: f32 = second.split(' ').nth(2).unwrap().split('\t').next().unwrap().parse().unwrap();
        assert_eq!(value, -1.234_567_9e-7, "{second}");
    }
}
