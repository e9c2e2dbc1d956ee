//! Text as the combining commands see it: lines of tokens, each predicted token with its
//! spelling, its RNN id and its line, laid out either as one stream or as independent
//! sentences.
//!
//! Word level: a line is its whitespace-separated words and the line end `<eos>` (lines
//! split as `str::lines` splits them), the tokens of `Vocab::encode`. Char and byte level:
//! a line is its characters (bytes) up to and including its `\n`.
//!
//! Stream: the lines one after another, as `elman eval` scores them; a word stream
//! starts from `<eos>` (so every word is predicted), a char or byte stream from its first
//! token (predicted tokens: all but the first). Sentences: each line from a fresh state,
//! its first token predicted from a line end (`<eos>`, or `\n`).

use crate::error::{ElmanError, Result};
use crate::rnn::data::vocab::{TokenizerKind, Vocab, EOS, UNK};

/// The tokens of one line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Line {
    /// RNN ids (a word outside the vocabulary is `<unk>`), the line end included.
    pub ids: Vec<u32>,
    /// How each token appears in output: the word as the text spells it (`<eos>` for the
    /// line end); a char or byte escaped to one space-free field.
    pub shown: Vec<String>,
    /// Whether the RNN's vocabulary lacks the token (it is scored as `<unk>`).
    pub oov: Vec<bool>,
}

/// A whole text, tokenized line by line for one RNN vocabulary.
#[derive(Clone, Debug, PartialEq)]
pub struct Text {
    pub kind: TokenizerKind,
    pub lines: Vec<Line>,
    /// The id a sentence starts from: `<eos>` (word) or `\n` (char, byte), if the
    /// vocabulary has one.
    pub start: Option<u32>,
}

/// Where each predicted token sits: its line and its index in that line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub line: usize,
    pub index: usize,
}

impl Text {
    /// Tokenizes `bytes` for `vocab` (char level: a character outside the vocabulary is
    /// an error naming it, as for `elman eval`).
    pub fn new(vocab: &Vocab, bytes: &[u8]) -> Result<Text> {
        let lines = match vocab.kind {
            TokenizerKind::Word => word_lines(vocab, as_text(bytes)?)?,
            TokenizerKind::Char => as_text(bytes)?.split_inclusive('\n').map(|l| char_line(vocab, l)).collect::<Result<_>>()?,
            TokenizerKind::Byte => bytes.split_inclusive(|&b| b == b'\n').map(byte_line).collect(),
        };
        let start = match vocab.kind {
            TokenizerKind::Word => vocab.id(EOS),
            TokenizerKind::Char => vocab.id("\n"),
            TokenizerKind::Byte => Some(b'\n' as u32),
        };
        Ok(Text { kind: vocab.kind, lines, start })
    }

    /// The stream's ids: every line's tokens in order, a word stream led by `<eos>`.
    pub fn stream_ids(&self) -> Vec<u32> {
        let mut ids = Vec::with_capacity(self.lines.iter().map(|l| l.ids.len()).sum::<usize>() + 1);
        if self.kind == TokenizerKind::Word {
            ids.extend(self.start);
        }
        for line in &self.lines {
            ids.extend_from_slice(&line.ids);
        }
        ids
    }

    /// The places of the stream's predicted tokens, in order (a char or byte stream does
    /// not predict its first token).
    pub fn stream_places(&self) -> Vec<Place> {
        let skip = usize::from(self.kind != TokenizerKind::Word);
        self.places().skip(skip).collect()
    }

    /// The places of every token of every line, in order (what sentences predict).
    pub fn places(&self) -> impl Iterator<Item = Place> + '_ {
        self.lines.iter().enumerate().flat_map(|(line, l)| (0..l.ids.len()).map(move |index| Place { line, index }))
    }

    /// The sentence start id, or why there is none.
    pub fn sentence_start(&self) -> Result<u32> {
        self.start.ok_or_else(|| ElmanError::Config("--sentences needs a line-end token to start each line from, and this model's vocabulary has no \"\\n\"".into()))
    }

    /// Tokens in all lines.
    pub fn token_count(&self) -> usize {
        self.lines.iter().map(|l| l.ids.len()).sum()
    }
}

fn as_text(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| ElmanError::Data {
        what: "text".into(),
        detail: format!("not valid UTF-8 at byte offset {} (a byte-level model reads any file)", e.valid_up_to()),
    })
}

fn word_lines(vocab: &Vocab, text: &str) -> Result<Vec<Line>> {
    let unk = vocab.id(UNK);
    let eos = vocab.id(EOS).ok_or_else(|| ElmanError::Config("the model's word vocabulary has no <eos>".into()))?;
    text.lines()
        .map(|l| {
            let mut line = Line::default();
            for word in l.split_whitespace() {
                let id = vocab.id(word);
                line.ids.push(id.or(unk).ok_or_else(|| ElmanError::Data {
                    what: "text".into(),
                    detail: format!("word {word:?} is not in the vocabulary, which has no <unk>"),
                })?);
                line.shown.push(word.to_string());
                line.oov.push(id.is_none());
            }
            line.ids.push(eos);
            line.shown.push(EOS.to_string());
            line.oov.push(false);
            Ok(line)
        })
        .collect()
}

fn char_line(vocab: &Vocab, text: &str) -> Result<Line> {
    let ids = vocab.encode(text.as_bytes())?;
    let shown = text.chars().map(|c| crate::ngram::arpa::escape_char_token(c.encode_utf8(&mut [0; 4]))).collect();
    let oov = vec![false; ids.len()];
    Ok(Line { ids, shown, oov })
}

fn byte_line(bytes: &[u8]) -> Line {
    let shown = bytes.iter().map(|&b| if b.is_ascii_graphic() { (b as char).to_string() } else { format!("<0x{b:02X}>") }).collect();
    Line { ids: bytes.iter().map(|&b| b as u32).collect(), shown, oov: vec![false; bytes.len()] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(symbols: &[&str]) -> Vocab {
        Vocab::from_symbols(TokenizerKind::Word, symbols.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn word_text_matches_encode_stream() {
        let vocab = words(&["<eos>", "<unk>", "a", "b"]);
        let bytes = b"a b c\n\nb a\r\nb";
        let text = Text::new(&vocab, bytes).unwrap();
        assert_eq!(text.stream_ids(), vocab.encode_stream(bytes).unwrap());
        assert_eq!(text.lines.len(), 4);
        assert_eq!(text.lines[0].oov, [false, false, true, false]);
        assert_eq!(text.stream_places().len(), text.stream_ids().len() - 1);
    }

    #[test]
    fn char_stream_skips_its_first_token() {
        let vocab = Vocab::build(TokenizerKind::Char, &[b"ab\nba\n"], None).unwrap();
        let text = Text::new(&vocab, b"ab\nb").unwrap();
        assert_eq!(text.stream_ids(), vocab.encode_stream(b"ab\nb").unwrap());
        assert_eq!(text.stream_places(), [Place { line: 0, index: 1 }, Place { line: 0, index: 2 }, Place { line: 1, index: 0 }]);
        assert_eq!(text.lines[0].shown, ["a", "b", "<U+000A>"]);
    }
}
