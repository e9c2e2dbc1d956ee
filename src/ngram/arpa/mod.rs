//! The ARPA back-off model format, as KenLM and SRILM read and write it:
//!
//! ```text
//! # elman ngram model: tokenizer=word markers=yes smoothing=kn
//! \data\
//! ngram 1=10002
//! ngram 2=264990
//!
//! \1-grams:
//! -99 → <s> → -1.0341
//! -1.6103 → the → -0.7952
//!
//! \2-grams:
//! -0.6315 → <s> the
//!
//! \end\
//! ```
//!
//! (→ marks a tab.) Each line is log10 p(w | c), the n-gram's tokens separated by
//! spaces, and (below the highest order, for n-grams that are contexts) the log10
//! back-off weight, all
//! tab-separated. log10 0 is written `-99`, and any value ≤ −99 reads back as log10 0.
//! The leading `#` line (KenLM skips `#` lines before `\data\`) records how to tokenize
//! text for the model; a file without it is read as word level with markers. At char
//! level, whitespace and control characters are written `<U+XXXX>` so that every token
//! stays one whitespace-free word.

mod lines;
mod read;
pub mod write;

pub use read::{read_arpa, read_arpa_file, read_arpa_from};
pub use write::{write_arpa, write_arpa_file};

/// log10 0 (−∞) is written as this, spelled `-99` (a real −99 is spelled `-99.0`). Read
/// back, `-99` is log10 0 in elman's own files (their header comment says so) and for
/// `<s>` (never predicted); elsewhere −99 itself, as KenLM reads it.
pub const LOG10_ZERO: f32 = -99.0;

/// The header comment's prefix.
pub const HEADER_PREFIX: &str = "# elman ngram model:";

/// The ARPA spelling of a char-level token.
pub fn escape_char_token(token: &str) -> String {
    let mut chars = token.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_whitespace() || c.is_control() => format!("<U+{:04X}>", c as u32),
        _ => token.to_string(),
    }
}

/// Inverse of [`escape_char_token`].
pub fn unescape_char_token(word: &str) -> String {
    word.strip_prefix("<U+")
        .and_then(|rest| rest.strip_suffix('>'))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .and_then(char::from_u32)
        .map_or_else(|| word.to_string(), |c| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_tokens_escape_whitespace_and_round_trip() {
        for token in [" ", "\n", "\t", "a", "é", "<s>", "\u{7f}"] {
            let word = escape_char_token(token);
            assert!(!word.chars().any(char::is_whitespace), "{word:?}");
            assert_eq!(unescape_char_token(&word), token);
        }
        assert_eq!(escape_char_token(" "), "<U+0020>");
    }
}
