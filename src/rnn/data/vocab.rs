//! Tokenizers and vocabularies: char (Unicode scalar values), byte (V = 256, any file) and
//! word (whitespace split, `<eos>` per line, `<unk>` for words outside the vocabulary).

pub use crate::choice::Choice;
use crate::error::{ElmanError, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How text becomes tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    Char,
    Byte,
    Word,
}

impl Choice for TokenizerKind {
    const WHAT: &'static str = "tokenizer";
    const TABLE: &'static [(Self, &'static str, &'static str)] = &[
        (TokenizerKind::Char, "char", "One token per Unicode scalar value; vocabulary = sorted distinct characters"),
        (TokenizerKind::Byte, "byte", "One token per byte; vocabulary = all 256 byte values (reads any file)"),
        (
            TokenizerKind::Word,
            "word",
            "Whitespace-separated words plus `<eos>` at each line end (Penn Treebank convention); words outside the vocabulary become `<unk>`",
        ),
    ];
}

pub const EOS: &str = "<eos>";
pub const UNK: &str = "<unk>";

/// A tokenizer with its symbol table (id → symbol) and the reverse index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    pub kind: TokenizerKind,
    /// Symbol of each id (for byte: "0".."255" unused; decoding works on raw bytes).
    pub symbols: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

impl Vocab {
    /// Builds a vocabulary from training texts. char: sorted distinct characters of all
    /// texts; byte: all 256 values; word: the `max_vocab` most frequent words (ties by
    /// first appearance), `<eos>` always and `<unk>` added when needed.
    pub fn build(kind: TokenizerKind, texts: &[&[u8]], max_vocab: Option<usize>) -> Result<Vocab> {
        let symbols = match kind {
            TokenizerKind::Byte => (0..=255u32).map(|b| b.to_string()).collect(),
            TokenizerKind::Char => {
                let mut chars: Vec<char> = Vec::new();
                for text in texts {
                    chars.extend(as_str(text)?.chars());
                }
                chars.sort_unstable();
                chars.dedup();
                chars.into_iter().map(String::from).collect()
            }
            TokenizerKind::Word => build_words(texts, max_vocab)?,
        };
        if symbols.is_empty() {
            return Err(ElmanError::Data { what: "vocabulary".into(), detail: "the training text has no tokens".into() });
        }
        Ok(Vocab::from_symbols(kind, symbols))
    }

    /// Rebuilds a vocabulary from a stored symbol list (checkpoints).
    pub fn from_symbols(kind: TokenizerKind, symbols: Vec<String>) -> Vocab {
        let index = symbols.iter().enumerate().map(|(i, s)| (s.clone(), i as u32)).collect();
        Vocab { kind, symbols, index }
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    pub fn id(&self, symbol: &str) -> Option<u32> {
        self.index.get(symbol).copied()
    }

    /// Text → ids. char: a character outside the vocabulary is an error naming it (up to
    /// five); word: unknown words map to `<unk>`; byte: always succeeds.
    pub fn encode(&self, text: &[u8]) -> Result<Vec<u32>> {
        match self.kind {
            TokenizerKind::Byte => Ok(text.iter().map(|&b| b as u32).collect()),
            TokenizerKind::Char => {
                let s = as_str(text)?;
                let mut ids = Vec::with_capacity(s.len());
                let mut unseen: Vec<char> = Vec::new();
                let mut buf = [0u8; 4];
                for c in s.chars() {
                    match self.index.get(&*c.encode_utf8(&mut buf)) {
                        Some(&id) => ids.push(id),
                        None => {
                            if !unseen.contains(&c) {
                                unseen.push(c);
                            }
                        }
                    }
                }
                if !unseen.is_empty() {
                    let shown: Vec<String> = unseen.iter().take(5).map(|c| format!("{c:?}")).collect();
                    return Err(ElmanError::Data {
                        what: "text".into(),
                        detail: format!(
                            "{} character(s) not in the model's vocabulary: {}{}",
                            unseen.len(),
                            shown.join(", "),
                            if unseen.len() > 5 { ", …" } else { "" }
                        ),
                    });
                }
                Ok(ids)
            }
            TokenizerKind::Word => {
                let unk = self.id(UNK);
                let eos = self.id(EOS).expect("word vocabularies always hold <eos>");
                let s = as_str(text)?;
                let mut ids = Vec::new();
                for line in s.lines() {
                    for word in line.split_whitespace() {
                        match self.id(word).or(unk) {
                            Some(id) => ids.push(id),
                            None => {
                                return Err(ElmanError::Data {
                                    what: "text".into(),
                                    detail: format!("word {word:?} is not in the vocabulary, which has no <unk>"),
                                })
                            }
                        }
                    }
                    ids.push(eos);
                }
                Ok(ids)
            }
        }
    }

    /// Text → ids for scoring as a stream: the word tokenizer starts the stream with
    /// `<eos>` (the Penn Treebank convention: every word, the first one included, is
    /// predicted from a sentence boundary); char and byte streams start at the first token.
    pub fn encode_stream(&self, text: &[u8]) -> Result<Vec<u32>> {
        let mut ids = self.encode(text)?;
        if self.kind == TokenizerKind::Word {
            ids.insert(0, self.id(EOS).expect("word vocabularies always hold <eos>"));
        }
        Ok(ids)
    }

    /// Ids → text (word: joined by spaces, `<eos>` as a newline; byte: lossy UTF-8).
    pub fn decode(&self, ids: &[u32]) -> String {
        match self.kind {
            TokenizerKind::Byte => String::from_utf8_lossy(&ids.iter().map(|&i| i as u8).collect::<Vec<_>>()).into_owned(),
            TokenizerKind::Char => ids.iter().map(|&i| self.symbols[i as usize].as_str()).collect(),
            TokenizerKind::Word => {
                let mut out = String::new();
                for &i in ids {
                    let sym = &self.symbols[i as usize];
                    if sym == EOS {
                        out.push('\n');
                    } else {
                        if !out.is_empty() && !out.ends_with('\n') {
                            out.push(' ');
                        }
                        out.push_str(sym);
                    }
                }
                out
            }
        }
    }

    /// Text of one id, as [`Vocab::decode`] would print it after earlier output.
    pub fn decode_one(&self, id: u32, first: bool) -> String {
        match self.kind {
            TokenizerKind::Word => {
                let sym = &self.symbols[id as usize];
                if sym == EOS {
                    "\n".into()
                } else if first {
                    sym.clone()
                } else {
                    format!(" {sym}")
                }
            }
            _ => self.decode(&[id]),
        }
    }
}

fn as_str(text: &[u8]) -> Result<&str> {
    std::str::from_utf8(text).map_err(|e| ElmanError::Data {
        what: "text".into(),
        detail: format!("not valid UTF-8 at byte offset {} (use the byte tokenizer for binary files)", e.valid_up_to()),
    })
}

fn build_words(texts: &[&[u8]], max_vocab: Option<usize>) -> Result<Vec<String>> {
    let mut counts: HashMap<&str, (u64, usize)> = HashMap::new();
    let mut order = 0usize;
    let mut has_unk_text = false;
    for text in texts {
        for word in as_str(text)?.split_whitespace() {
            let e = counts.entry(word).or_insert_with(|| {
                order += 1;
                (0, order)
            });
            e.0 += 1;
            has_unk_text |= word == UNK;
        }
    }
    let mut words: Vec<(&str, u64, usize)> = counts.into_iter().filter(|(w, _)| *w != EOS).map(|(w, (c, o))| (w, c, o)).collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    // Room for <eos>, and for <unk> when the text does not hold it itself.
    let limit = max_vocab.map(|m| m.saturating_sub(1));
    let truncated = limit.is_some_and(|m| words.len() > m);
    if let Some(m) = limit {
        let keep = if truncated && !has_unk_text { m.saturating_sub(1) } else { m };
        words.truncate(keep);
    }
    let mut symbols = vec![EOS.to_string()];
    symbols.extend(words.iter().map(|(w, _, _)| w.to_string()));
    if !symbols.iter().any(|s| s == UNK) {
        symbols.push(UNK.to_string());
    }
    Ok(symbols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_vocab_round_trips_and_names_unseen_characters() {
        let v = Vocab::build(TokenizerKind::Char, &["hello wörld".as_bytes()], None).unwrap();
        assert_eq!(v.len(), 9); // h e l o space w ö r d
        let ids = v.encode("löw".as_bytes()).unwrap();
        assert_eq!(v.decode(&ids), "löw");
        let err = v.encode(b"hex!").unwrap_err().to_string();
        assert!(err.contains("'x'") && err.contains("'!'"), "{err}");
    }

    #[test]
    fn word_vocab_follows_ptb_conventions() {
        let text = b"a b <unk> a\nb a\n";
        let v = Vocab::build(TokenizerKind::Word, &[text], None).unwrap();
        assert_eq!(v.symbols, ["<eos>", "a", "b", "<unk>"]);
        let ids = v.encode(b"a zzz\n").unwrap();
        assert_eq!(ids, [1, 3, 0]);
        assert_eq!(v.decode(&ids), "a <unk>\n");
        let capped = Vocab::build(TokenizerKind::Word, &[b"x x x y y z\n"], Some(3)).unwrap();
        assert_eq!(capped.symbols, ["<eos>", "x", "<unk>"]);
    }

    #[test]
    fn byte_vocab_reads_anything() {
        let v = Vocab::build(TokenizerKind::Byte, &[b"\xff\x00"], None).unwrap();
        assert_eq!(v.len(), 256);
        assert_eq!(v.encode(b"\xff\x00").unwrap(), [255, 0]);
    }
}
