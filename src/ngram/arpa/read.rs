//! Reading ARPA text into a model, streamed: the file passes through a fixed buffer, the
//! n-gram sections are parsed a block at a time on all cores straight into the model's
//! arrays (sized from the header, bounded by the file's size), and an order that is
//! already sorted — as elman and KenLM write them — is not sorted again. Errors name the
//! line and what was expected.

use super::lines::BlockLines;
use super::{unescape_char_token, HEADER_PREFIX, LOG10_ZERO};
use crate::choice::Choice;
use crate::error::{ElmanError, Result};
use crate::ngram::binary::OwnedTokenTable;
use crate::ngram::lm::Lexicon;
use crate::ngram::key::{KeyLayout, SortedKeys};
use crate::ngram::model::{ModelInfo, ModelLevel, NgramModel};
use crate::ngram::tokenize::NgramTokenizer;
use crate::ngram::vocab::{NgramVocab, BOS, UNK};
use rayon::prelude::*;
use std::io::Read;
use std::path::Path;

/// Reads the ARPA file at `path`.
pub fn read_arpa_file(path: &Path) -> Result<NgramModel<f32>> {
    let io = |source| ElmanError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size == 0 && file.metadata().map_err(io)?.is_file() {
        return Err(ElmanError::EmptyInput { path: path.to_path_buf() });
    }
    read_arpa_from(file, (size > 0).then_some(size), path)
}

/// Parses ARPA `text`; `path` names it in errors.
pub fn read_arpa(text: &str, path: &Path) -> Result<NgramModel<f32>> {
    read_arpa_from(text.as_bytes(), Some(text.len() as u64), path)
}

/// What the `# elman ngram model:` comment says, if present.
fn parse_header(line: &str, info: &mut ModelInfo) {
    for field in line[HEADER_PREFIX.len()..].split_whitespace() {
        match field.split_once('=') {
            Some(("tokenizer", name)) => info.tokenizer = NgramTokenizer::parse(name).unwrap_or(info.tokenizer),
            Some(("markers", yes)) => info.markers = yes == "yes",
            Some(("smoothing", s)) => info.smoothing = s.replace('_', " "),
            _ => {}
        }
    }
}

/// A log10 value as written (`-inf` too); NaN and +∞ are refused. `-99`, SRILM's spelling
/// of log10 0, is −99 itself as KenLM reads it, except in elman's own files (`elman_file`:
/// their header says who wrote them), where elman writes log10 0 so and a real −99 as
/// `-99.0`; `<s>`'s is log10 0 in any file (see [`read_through`]).
fn parse_log10(field: &str, elman_file: bool) -> Option<f32> {
    if elman_file && field == "-99" {
        return Some(f32::NEG_INFINITY);
    }
    let value: f32 = field.parse().ok()?;
    if value.is_nan() || value == f32::INFINITY {
        return None;
    }
    Some(value)
}

/// Reads ARPA text from `source`; `size` (the byte count, when known) bounds the header's
/// counts before anything is reserved.
pub fn read_arpa_from(source: impl Read, size: Option<u64>, path: &Path) -> Result<NgramModel<f32>> {
    read_through(BlockLines::new(source, size, path), size)
}

fn read_through<R: Read>(mut lines: BlockLines<R>, size: Option<u64>) -> Result<NgramModel<f32>> {
    let mut info = ModelInfo { tokenizer: NgramTokenizer::Word, markers: true, smoothing: "unknown".to_string() };
    let mut saw_header = false;
    let (number, line) = loop {
        let (number, line) = lines.next_non_blank("\\data\\")?;
        if line.starts_with(HEADER_PREFIX) {
            parse_header(&line, &mut info);
            saw_header = true;
        } else if !line.starts_with('#') {
            break (number, line);
        }
    };
    if line.trim() != "\\data\\" {
        return Err(lines.error(number, "\\data\\", &line));
    }
    let counts = read_counts(&mut lines, size)?;
    let order = counts.len();
    let mut vocab = NgramVocab::new();
    let mut levels: Vec<ModelLevel<f32>> = Vec::with_capacity(order);
    let mut layout = KeyLayout::new(vocab.len(), 1)?;
    for (n, &count) in (1..).zip(&counts) {
        let heading = format!("\\{n}-grams:");
        let (number, line) = lines.next_non_blank(&heading)?;
        if line.trim() != heading {
            return Err(lines.error(number, &heading, &line));
        }
        let section = SectionShape { n, order, count, tokenizer: info.tokenizer, layout, elman_file: saw_header };
        let level = if n == 1 { read_unigrams(&mut lines, &section, &mut vocab)? } else { read_section(&mut lines, &section, &vocab)? };
        if level.positive > 0 {
            eprintln!(
                "warning: {} holds {} {n}-gram log10 probabilit{} above 0 (a probability above 1); read as 0, as KenLM reads them",
                lines.path.display(),
                level.positive,
                if level.positive == 1 { "y" } else { "ies" }
            );
        }
        if n == 1 {
            layout = KeyLayout::new(vocab.len(), order)?;
        }
        levels.push(sort_level(&lines, level, n, order)?);
        if n == 1 {
            // `<s>` is a context, never predicted: its −99 (SRILM's and elman's log10 0)
            // is log10 0 in the model, as elman's own models hold it.
            if let Some(at) = levels[0].find(BOS as u128) {
                if levels[0].log10_prob[at] <= LOG10_ZERO {
                    levels[0].log10_prob[at] = f32::NEG_INFINITY;
                }
            }
        }
        if n == 1 && levels[0].find(UNK as u128).is_none() {
            add_missing_unk(&mut levels[0], order);
            eprintln!(
                "warning: {} has no <unk> unigram (SRILM writes such files without -unk); a word outside its vocabulary gets log10 p = {MISSING_UNK_LOG10}, as KenLM gives it",
                lines.path.display()
            );
        }
    }
    let (number, line) = lines.next_non_blank("\\end\\")?;
    if line.trim() != "\\end\\" {
        return Err(lines.error(number, "\\end\\", &line));
    }
    if !saw_header {
        info.markers = levels.first().is_some_and(|unigrams| unigrams.find(BOS as u128).is_some());
    }
    Ok(NgramModel { vocab, layout, info, levels })
}

/// log10 p(<unk>) for a file without an `<unk>` unigram: KenLM's substitute, so that
/// out-of-vocabulary words score as KenLM scores them, finitely.
pub const MISSING_UNK_LOG10: f32 = -100.0;

/// Adds `<unk>` (id 0, so first in key order) to the unigrams with log10 p
/// [`MISSING_UNK_LOG10`] and back-off 0.
fn add_missing_unk(unigrams: &mut ModelLevel<f32>, order: usize) {
    unigrams.keys.insert(0, UNK as u128);
    unigrams.log10_prob.insert(0, MISSING_UNK_LOG10);
    if order > 1 {
        unigrams.log10_backoff.insert(0, 0.0);
    }
}

/// The `ngram N=count` lines after `\data\`, each count bounded by what `size` bytes can
/// hold (an n-gram line takes at least 2n + 2 bytes).
fn read_counts<R: Read>(lines: &mut BlockLines<R>, size: Option<u64>) -> Result<Vec<usize>> {
    let mut counts = Vec::new();
    loop {
        let expected = format!("ngram {}=<count>", counts.len() + 1);
        let (number, line) = lines.next(&expected)?;
        if line.trim().is_empty() && !counts.is_empty() {
            return Ok(counts);
        }
        let parsed = line
            .trim()
            .strip_prefix("ngram ")
            .and_then(|rest| rest.split_once('='))
            .and_then(|(n, c)| Some((n.trim().parse::<usize>().ok()?, c.trim().parse::<u64>().ok()?)));
        match parsed {
            Some((n, c)) if n == counts.len() + 1 => {
                let most = size.map_or(u64::MAX, |s| s / (2 * n as u64 + 2));
                if c > most || c > usize::MAX as u64 {
                    let what = format!("a count a file of {} bytes can hold (at most {most} {n}-grams)", size.unwrap_or(0));
                    return Err(lines.error(number, &what, &line));
                }
                counts.push(c as usize);
            }
            _ if line.trim().is_empty() => continue,
            _ => return Err(lines.error(number, &expected, &line)),
        }
    }
}

/// What one section's lines must look like.
struct SectionShape {
    /// Whether the file is elman's own (its header comment), where `-99` is log10 0.
    elman_file: bool,
    n: usize,
    order: usize,
    count: usize,
    tokenizer: NgramTokenizer,
    layout: KeyLayout,
}

/// One order's parsed lines, in file order, and the line number of each entry.
#[derive(Default)]
struct Parsed {
    keys: Vec<u128>,
    probs: Vec<f32>,
    backoffs: Vec<f32>,
    /// (entry index, line number) where the entries' lines stop being consecutive.
    anchors: Vec<(usize, usize)>,
    /// Log10 probabilities above 0 read as 0.
    positive: usize,
}

impl Parsed {
    fn with_capacity(count: usize, backoffs: bool) -> Self {
        // A count the file's size allows, but not more than a block's worth up front: the
        // vectors grow if the lines are really there.
        let reserve = count.min(1 << 22);
        Parsed {
            keys: Vec::with_capacity(reserve),
            probs: Vec::with_capacity(reserve),
            backoffs: Vec::with_capacity(if backoffs { reserve } else { 0 }),
            anchors: Vec::new(),
            positive: 0,
        }
    }

    /// The line of entry `index`.
    fn line_of(&self, index: usize) -> usize {
        let at = self.anchors.partition_point(|&(i, _)| i <= index);
        let (first, line) = self.anchors[at.saturating_sub(1)];
        line + (index - first)
    }

    fn append(&mut self, mut piece: Parsed, first_line: usize) {
        let base = self.keys.len();
        for (i, line) in piece.anchors {
            self.anchors.push((base + i, first_line + line));
        }
        self.positive += piece.positive;
        self.keys.append(&mut piece.keys);
        self.probs.append(&mut piece.probs);
        self.backoffs.append(&mut piece.backoffs);
    }
}

/// How a block of lines ended for one section.
enum Stop {
    /// Every line was an n-gram (or blank).
    Open,
    /// A line starting with `\` at this byte offset: the section is over.
    Heading(usize),
    /// A malformed line (number relative to the piece, 0-based), expected, found.
    Bad(usize, String, String),
}

/// The id of the token in each field of the previous line: in a sorted order, neighbours
/// share most of their tokens, and comparing a field is cheaper than hashing it.
type FieldCache<'t> = Vec<(&'t str, u32)>;

/// Parses one n-gram line into `out`; `lookup` maps a token to its id.
fn parse_line<'t>(
    line: &'t str,
    s: &SectionShape,
    out: &mut Parsed,
    cache: &mut FieldCache<'t>,
    lookup: &mut impl FnMut(&str) -> Option<u32>,
) -> std::result::Result<(), (String, String)> {
    let n = s.n;
    let expected = || format!("a {n}-gram line (log10 probability, {n} token(s), optional back-off)");
    let mut fields = line.split_ascii_whitespace();
    let prob_field = fields.next().ok_or_else(|| (expected(), line.to_string()))?;
    let mut key = 0u128;
    cache.resize(n, ("", 0));
    for (i, cached) in cache.iter_mut().enumerate() {
        let word = fields.next().ok_or_else(|| (expected(), line.to_string()))?;
        let id = if cached.0 == word && !word.is_empty() {
            cached.1
        } else {
            let id = match s.tokenizer {
                NgramTokenizer::Word => lookup(word),
                NgramTokenizer::Char => lookup(&unescape_char_token(word)),
            };
            let id = id.ok_or_else(|| ("a token listed among the 1-grams".to_string(), word.to_string()))?;
            *cached = (word, id);
            id
        };
        key |= (id as u128) << (i as u32 * s.layout.bits());
    }
    let backoff_field = fields.next();
    if fields.next().is_some() {
        return Err((expected(), line.to_string()));
    }
    let mut prob = parse_log10(prob_field, s.elman_file).ok_or_else(|| ("a log10 probability".to_string(), prob_field.to_string()))?;
    if prob > 0.0 {
        // A probability above 1 (IRSTLM writes some): read as 1, as KenLM reads it.
        prob = 0.0;
        out.positive += 1;
    }
    let backoff = match backoff_field {
        Some(_) if n == s.order => return Err(("no back-off weight on a highest-order n-gram".to_string(), line.to_string())),
        Some(field) => parse_log10(field, s.elman_file).ok_or_else(|| ("a log10 back-off weight".to_string(), field.to_string()))?,
        None => 0.0,
    };
    out.keys.push(key);
    out.probs.push(prob);
    if n < s.order {
        out.backoffs.push(backoff);
    }
    Ok(())
}

/// Parses the lines of `text` (whole lines) until a `\` line or a bad line; also returns
/// the number of line breaks in `text`.
fn parse_piece(text: &str, s: &SectionShape, lookup: &mut impl FnMut(&str) -> Option<u32>) -> (Parsed, Stop, usize) {
    let mut out = Parsed::default();
    let mut cache = FieldCache::new();
    let mut offset = 0;
    let mut consecutive = false;
    let mut lines = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        lines = i + usize::from(raw.ends_with('\n'));
        let line = raw.trim_end_matches('\n').trim_end_matches('\r');
        if line.trim().is_empty() {
            consecutive = false;
        } else if line.trim_start().starts_with('\\') {
            return (out, Stop::Heading(offset), lines);
        } else {
            if !consecutive {
                out.anchors.push((out.keys.len(), i));
                consecutive = true;
            }
            if let Err((expected, found)) = parse_line(line, s, &mut out, &mut cache, lookup) {
                return (out, Stop::Bad(i, expected, found), lines);
            }
        }
        offset += raw.len();
    }
    (out, Stop::Open, lines)
}

/// Splits `text` into about `parts` runs of whole lines.
fn split_lines(text: &str, parts: usize) -> Vec<&str> {
    let mut pieces = Vec::with_capacity(parts);
    let mut rest = text;
    let target = text.len().div_ceil(parts.max(1)).max(1);
    while !rest.is_empty() {
        let cut = if rest.len() <= target { rest.len() } else { rest.as_bytes()[target..].iter().position(|&b| b == b'\n').map_or(rest.len(), |at| target + at + 1) };
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    pieces
}

/// Turns a section's stop into the end of reading it: `Ok(true)` when it is complete.
fn finish_block<R: Read>(lines: &mut BlockLines<R>, level: &mut Parsed, piece: Parsed, stop: Stop, piece_start: usize, first_line: usize) -> Result<bool> {
    level.append(piece, first_line);
    match stop {
        Stop::Open => Ok(false),
        Stop::Heading(offset) => {
            lines.consume(piece_start + offset);
            Ok(true)
        }
        Stop::Bad(line, expected, found) => Err(lines.error(first_line + line, &expected, &found)),
    }
}

/// Checks that a finished section holds exactly the header's count.
fn check_count<R: Read>(lines: &BlockLines<R>, s: &SectionShape, level: &Parsed) -> Result<()> {
    if level.keys.len() > s.count {
        let next = if s.n == s.order { "\\end\\".to_string() } else { format!("\\{}-grams:", s.n + 1) };
        let what = format!("{next} after the {} {}-grams the \\data\\ header counts", s.count, s.n);
        return Err(lines.error(level.line_of(s.count), &what, "another n-gram line"));
    }
    if level.keys.len() < s.count {
        let what = format!("{} {}-grams as the \\data\\ header says (found {})", s.count, s.n, level.keys.len());
        let number = lines.next_line_number();
        return Err(lines.error(number, &what, "the end of the section"));
    }
    Ok(())
}

/// Reads one order's lines a block at a time; `parse` turns a block into its pieces in
/// order: (parsed entries, how the piece stopped, its line breaks, its offset in the block).
fn read_level<R: Read>(lines: &mut BlockLines<R>, s: &SectionShape, mut parse: impl FnMut(&str) -> Vec<(Parsed, Stop, usize, usize)>) -> Result<Parsed> {
    let mut level = Parsed::with_capacity(s.count, s.n < s.order);
    'blocks: loop {
        let mut line = lines.next_line_number();
        let block = lines.block()?;
        if block.is_empty() {
            break;
        }
        let len = block.len();
        for (piece, stop, newlines, start) in parse(block) {
            if finish_block(lines, &mut level, piece, stop, start, line)? {
                break 'blocks;
            }
            line += newlines;
        }
        lines.consume(len);
    }
    check_count(lines, s, &level)?;
    Ok(level)
}

/// The unigrams, one piece per block (each new token gets the next id, in file order).
fn read_unigrams<R: Read>(lines: &mut BlockLines<R>, s: &SectionShape, vocab: &mut NgramVocab) -> Result<Parsed> {
    read_level(lines, s, |block| {
        let (piece, stop, newlines) = parse_piece(block, s, &mut |token| Some(vocab.insert(token)));
        vec![(piece, stop, newlines, 0)]
    })
}

/// An order above 1: each block cut into pieces parsed on all cores.
fn read_section<R: Read>(lines: &mut BlockLines<R>, s: &SectionShape, vocab: &NgramVocab) -> Result<Parsed> {
    let parts = rayon::current_num_threads() * 4;
    let table = OwnedTokenTable::new(vocab.words());
    let tokens = table.as_ref().map(OwnedTokenTable::view);
    let lookup = |token: &str| match &tokens {
        Some(t) => t.id(token),
        None => vocab.get(token),
    };
    read_level(lines, s, |block| {
        let pieces = split_lines(block, parts);
        let starts: Vec<usize> = pieces.iter().scan(0, |at, p| Some(std::mem::replace(at, *at + p.len()))).collect();
        let parsed: Vec<(Parsed, Stop, usize)> = pieces.par_iter().map(|piece| parse_piece(piece, s, &mut |token| lookup(token))).collect();
        parsed.into_iter().zip(starts).map(|((p, stop, newlines), start)| (p, stop, newlines, start)).collect()
    })
}

/// Sorts one order by key unless it already is, refusing duplicates.
fn sort_level<R: Read>(lines: &BlockLines<R>, level: Parsed, n: usize, order: usize) -> Result<ModelLevel<f32>> {
    let duplicate = |first: usize, second: usize| {
        let (a, b) = (first.min(second), first.max(second));
        let what = format!("each {n}-gram once (first listed on line {})", level.line_of(a));
        lines.error(level.line_of(b), &what, "a repeat")
    };
    if level.keys.windows(2).all(|w| w[0] < w[1]) {
        let backoffs = if n < order { level.backoffs } else { Vec::new() };
        return Ok(ModelLevel { keys: level.keys, log10_prob: level.probs, log10_backoff: backoffs });
    }
    let mut perm: Vec<u32> = (0..level.keys.len() as u32).collect();
    perm.sort_unstable_by_key(|&i| (level.keys[i as usize], i));
    if let Some(pair) = perm.windows(2).find(|w| level.keys[w[0] as usize] == level.keys[w[1] as usize]) {
        return Err(duplicate(pair[0] as usize, pair[1] as usize));
    }
    let keys = perm.iter().map(|&i| level.keys[i as usize]).collect();
    let log10_prob = perm.iter().map(|&i| level.probs[i as usize]).collect();
    let log10_backoff = if n < order { perm.iter().map(|&i| level.backoffs[i as usize]).collect() } else { Vec::new() };
    Ok(ModelLevel { keys, log10_prob, log10_backoff })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ngram::{train, Smoothing, TokenizeOptions, TrainOptions};

    #[test]
    fn small_buffers_read_the_same_model() {
        // Lines and section headings fall across many block boundaries; a line longer than
        // the buffer grows it.
        let text: String = (0..400).map(|i| format!("w{} w{} w{} x{}\n", i % 37, i % 11, (i * 7) % 23, i % 5)).collect();
        let options = TrainOptions::new(3, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn);
        let model = train::<f32>(&text, "t", &options).unwrap().model;
        let mut arpa = Vec::new();
        crate::ngram::arpa::write_arpa(&model, &mut arpa).unwrap();
        let whole = read_arpa_from(arpa.as_slice(), Some(arpa.len() as u64), Path::new("m.arpa")).unwrap();
        assert_eq!(whole, model);
        for buffer in [7, 64, 300, 4096] {
            let lines = BlockLines::with_buffer(arpa.as_slice(), buffer, Path::new("m.arpa"));
            assert_eq!(read_through(lines, None).unwrap(), model, "buffer {buffer}");
        }
        // Errors still name the right line with a small buffer.
        let bad = String::from_utf8(arpa.clone()).unwrap().replacen("\\2-grams:\n", "\\2-grams:\n-0.5 nope nope\n", 1);
        let line = bad.lines().position(|l| l.contains("nope")).unwrap() + 1;
        let err = read_through(BlockLines::with_buffer(bad.as_bytes(), 50, Path::new("m.arpa")), None).unwrap_err().to_string();
        assert!(err.contains(&format!("m.arpa:{line}:")), "{err} (wanted line {line})");
    }
}
