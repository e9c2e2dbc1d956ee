//! Text → token ids for the n-gram models: word level (whitespace split, one sentence per
//! line) or char level (Unicode scalar values), with or without `<s>` … `</s>` markers.
//!
//! Conventions (shared with KenLM so perplexities agree):
//! - with markers, each line is a sentence `<s> w1 … wk </s>` (an empty line is `<s> </s>`);
//!   at char level the line's characters are the tokens and `</s>` stands for the newline;
//! - without markers the whole file is one stream of raw tokens (at char level the
//!   newlines are tokens too);
//! - the literal words `<s>` and `</s>` in the text are skipped (KenLM reads them as
//!   whitespace); the literal `<unk>` is the `<unk>` token, counted like any word.

use super::lm::Lexicon;
use super::vocab::{FxHashMap, NgramVocab, BOS, EOS, UNK};
pub use crate::choice::Choice;

/// How text is cut into tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NgramTokenizer {
    Word,
    Char,
}

impl Choice for NgramTokenizer {
    const WHAT: &'static str = "tokenizer";
    /// The names are those of the command line and of ARPA headers.
    const TABLE: &'static [(Self, &'static str, &'static str)] =
        &[(NgramTokenizer::Word, "word", "Split on whitespace"), (NgramTokenizer::Char, "char", "One token per Unicode character")];
}

/// How a text is turned into sentences of token ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenizeOptions {
    pub tokenizer: NgramTokenizer,
    /// Wrap each line in `<s>` … `</s>` (off: one raw stream, as in the worked examples of
    /// docs/ngram.md).
    pub markers: bool,
}

/// A tokenized text: all sentences back to back, and where each one ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NgramCorpus {
    /// Token ids, markers included.
    pub tokens: Vec<u32>,
    /// Exclusive end offset of each sentence in `tokens`.
    pub sentence_ends: Vec<usize>,
    /// Positions in `tokens` of tokens the vocabulary did not know (now `<unk>`);
    /// always empty in training.
    pub oov_positions: Vec<usize>,
}

impl NgramCorpus {
    /// The sentences as slices of `tokens`.
    pub fn sentences(&self) -> impl Iterator<Item = &[u32]> + '_ {
        let mut start = 0;
        self.sentence_ends.iter().map(move |&end| {
            let sentence = &self.tokens[start..end];
            start = end;
            sentence
        })
    }

    /// Tokens that are not `<s>` or `</s>`.
    pub fn word_count(&self) -> usize {
        self.tokens.iter().filter(|&&t| t != BOS && t != EOS).count()
    }
}

/// Maps token strings to ids, either growing a vocabulary (training) or reading a fixed one.
trait IdSource<'t> {
    /// The id of `token`, which will sit at `position` in the token stream.
    fn id(&mut self, token: &'t str, position: usize) -> u32;
}

/// Training: every new token gets the next id (first-occurrence order, so runs are
/// reproducible). Borrowed keys keep the hot loop free of allocations.
struct Growing<'t> {
    seen: FxHashMap<&'t str, u32>,
    vocab: NgramVocab,
}

impl<'t> IdSource<'t> for Growing<'t> {
    fn id(&mut self, token: &'t str, _position: usize) -> u32 {
        if let Some(&id) = self.seen.get(token) {
            return id;
        }
        let id = self.vocab.insert(token);
        self.seen.insert(token, id);
        id
    }
}

/// Scoring: unknown tokens become `<unk>` and are counted.
struct Fixed<'v> {
    vocab: &'v dyn Lexicon,
    oov_positions: Vec<usize>,
}

impl<'t> IdSource<'t> for Fixed<'_> {
    fn id(&mut self, token: &'t str, position: usize) -> u32 {
        match self.vocab.id(token) {
            Some(id) => id,
            None => {
                self.oov_positions.push(position);
                UNK
            }
        }
    }
}

/// Tokenizes training text, building the vocabulary as it goes.
pub fn tokenize_training(text: &str, options: TokenizeOptions) -> (NgramVocab, NgramCorpus) {
    let mut source = Growing { seen: FxHashMap::default(), vocab: NgramVocab::new() };
    for (i, special) in super::vocab::SPECIALS.iter().enumerate() {
        source.seen.insert(special, i as u32);
    }
    let corpus = tokenize_with(text, options, &mut source);
    (source.vocab, corpus)
}

/// A piece's own vocabulary: new tokens numbered from [`SPECIALS`]'s length in the order
/// they first occur (the specials keep their global ids).
struct Local<'t> {
    seen: FxHashMap<&'t str, u32>,
    words: Vec<&'t str>,
}

impl<'t> IdSource<'t> for Local<'t> {
    fn id(&mut self, token: &'t str, _position: usize) -> u32 {
        if let Some(&id) = self.seen.get(token) {
            return id;
        }
        let id = (super::vocab::SPECIALS.len() + self.words.len()) as u32;
        self.words.push(token);
        self.seen.insert(token, id);
        id
    }
}

/// Tokenizes one piece of a training text with ids local to the piece: the tokens, and
/// the piece's new words in first-occurrence order (local id = SPECIALS.len() + index).
/// Pieces tokenized apart, then mapped into one vocabulary in text order, give the
/// training vocabulary of the whole text ([`super::bounded`]).
pub(crate) fn tokenize_piece_local(text: &str, options: TokenizeOptions) -> (NgramCorpus, Vec<&str>) {
    let mut source = Local { seen: FxHashMap::default(), words: Vec::new() };
    for (i, special) in super::vocab::SPECIALS.iter().enumerate() {
        source.seen.insert(special, i as u32);
    }
    let corpus = tokenize_with(text, options, &mut source);
    (corpus, source.words)
}

/// Tokenizes text against a fixed vocabulary; unknown tokens map to `<unk>`. A long text
/// is cut at line breaks into pieces tokenized on all cores and joined in order (the same
/// result: no token spans a line break).
pub fn tokenize_with_vocab(text: &str, options: TokenizeOptions, vocab: &dyn Lexicon) -> NgramCorpus {
    use rayon::prelude::*;
    const PIECE: usize = 256 << 10;
    let tokenize_piece = |piece: &str| {
        let mut source = Fixed { vocab, oov_positions: Vec::new() };
        let mut corpus = tokenize_with(piece, options, &mut source);
        corpus.oov_positions = source.oov_positions;
        corpus
    };
    if text.len() <= PIECE {
        return tokenize_piece(text);
    }
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = if rest.len() <= PIECE { rest.len() } else { rest.as_bytes()[PIECE..].iter().position(|&b| b == b'\n').map_or(rest.len(), |at| PIECE + at + 1) };
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    let parts: Vec<NgramCorpus> = pieces.into_par_iter().map(tokenize_piece).collect();
    let mut corpus = NgramCorpus::default();
    for part in parts {
        let base = corpus.tokens.len();
        corpus.tokens.extend_from_slice(&part.tokens);
        corpus.oov_positions.extend(part.oov_positions.iter().map(|&p| p + base));
        if options.markers {
            corpus.sentence_ends.extend(part.sentence_ends.iter().map(|&e| e + base));
        }
    }
    if !options.markers {
        corpus.sentence_ends.push(corpus.tokens.len());
    }
    corpus
}

/// Splits `text` into tokens (skipping literal markers) and hands each to `emit`.
pub fn for_each_token<'t>(line: &'t str, tokenizer: NgramTokenizer, mut emit: impl FnMut(&'t str)) {
    match tokenizer {
        NgramTokenizer::Word => {
            for word in line.split_whitespace() {
                if word != "<s>" && word != "</s>" {
                    emit(word);
                }
            }
        }
        NgramTokenizer::Char => {
            for (at, c) in line.char_indices() {
                emit(&line[at..at + c.len_utf8()]);
            }
        }
    }
}

fn tokenize_with<'t>(text: &'t str, options: TokenizeOptions, source: &mut impl IdSource<'t>) -> NgramCorpus {
    let mut corpus = NgramCorpus::default();
    if options.markers {
        for line in text.lines() {
            corpus.tokens.push(BOS);
            for_each_token(line, options.tokenizer, |token| {
                let id = source.id(token, corpus.tokens.len());
                corpus.tokens.push(id);
            });
            corpus.tokens.push(EOS);
            corpus.sentence_ends.push(corpus.tokens.len());
        }
    } else {
        for_each_token(text, options.tokenizer, |token| {
            let id = source.id(token, corpus.tokens.len());
            corpus.tokens.push(id);
        });
        corpus.sentence_ends.push(corpus.tokens.len());
    }
    corpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_level_wraps_lines_and_skips_literal_markers() {
        let options = TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true };
        let (vocab, corpus) = tokenize_training("a b <s> a\n\n<unk> c\n", options);
        let words: Vec<Vec<&str>> =
            corpus.sentences().map(|s| s.iter().map(|&id| vocab.word(id)).collect()).collect();
        assert_eq!(
            words,
            vec![vec!["<s>", "a", "b", "a", "</s>"], vec!["<s>", "</s>"], vec!["<s>", "<unk>", "c", "</s>"]]
        );
        assert_eq!(corpus.word_count(), 5);
    }

    #[test]
    fn long_texts_cut_into_pieces_tokenize_as_a_whole() {
        // Past 256 KiB the text is cut at line breaks (never inside a character) and the
        // pieces are tokenized in parallel.
        let line = "é ü 日本 a b\n".repeat(40_000);
        let text = format!("{line}zz yy"); // the first cut, at 256 KiB, falls inside a `ü`
        for (tokenizer, markers) in [(NgramTokenizer::Word, true), (NgramTokenizer::Char, false), (NgramTokenizer::Char, true)] {
            let options = TokenizeOptions { tokenizer, markers };
            let (vocab, whole) = tokenize_training(&text[..100], options);
            let pieces = tokenize_with_vocab(&text, options, &vocab);
            let mut source = Fixed { vocab: &vocab, oov_positions: Vec::new() };
            let mut serial = tokenize_with(&text, options, &mut source);
            serial.oov_positions = source.oov_positions;
            assert_eq!(pieces, serial);
            assert!(!whole.tokens.is_empty() && !pieces.oov_positions.is_empty());
        }
    }

    #[test]
    fn char_level_without_markers_keeps_newlines_and_counts_oov() {
        let options = TokenizeOptions { tokenizer: NgramTokenizer::Char, markers: false };
        let (vocab, corpus) = tokenize_training("ab\nba", options);
        assert_eq!(corpus.tokens.len(), 5);
        assert_eq!(vocab.word(corpus.tokens[2]), "\n");
        let scored = tokenize_with_vocab("abz", options, &vocab);
        assert_eq!(scored.oov_positions, vec![2]);
        assert_eq!(scored.tokens[2], UNK);
    }
}
