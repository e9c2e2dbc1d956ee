//! cargo-fuzz target: training text under every tokenizer (the first byte picks one: RNN
//! char, byte, word; n-gram word, char) must tokenize or be refused, never panic.
#![no_main]

use elman::rnn::data::TokenizerKind;
use elman::ngram::NgramTokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let _ = match pick % 5 {
        0 => elman::untrusted::training_text(text, TokenizerKind::Char),
        1 => elman::untrusted::training_text(text, TokenizerKind::Byte),
        2 => elman::untrusted::training_text(text, TokenizerKind::Word),
        3 => elman::untrusted::ngram_text(text, NgramTokenizer::Word),
        _ => elman::untrusted::ngram_text(text, NgramTokenizer::Char),
    };
});
