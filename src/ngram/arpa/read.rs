//! Reading ARPA text into a model, with errors that name the line and what was expected.

use crate::choice::Choice;
use super::{unescape_char_token, HEADER_PREFIX, LOG10_ZERO};
use crate::error::{ElmanError, Result};
use crate::ngram::key::{KeyLayout, SortedKeys};
use crate::ngram::model::{ModelInfo, ModelLevel, NgramModel};
use crate::ngram::tokenize::Tokenizer;
use crate::ngram::vocab::{NgramVocab, BOS};
use std::path::{Path, PathBuf};

/// Reads the ARPA file at `path`.
pub fn read_arpa_file(path: &Path) -> Result<NgramModel<f32>> {
    let text = crate::data::text::read_utf8(path)?;
    read_arpa(&text, path)
}

/// Line-numbered cursor over the text, skipping nothing unless asked.
struct Lines<'t> {
    path: PathBuf,
    lines: std::iter::Peekable<std::iter::Enumerate<std::str::Lines<'t>>>,
    last_line: usize,
}

impl<'t> Lines<'t> {
    fn error(&self, line: usize, expected: &str, found: &str) -> ElmanError {
        let found = if found.chars().count() > 60 {
            format!("{:?}…", found.chars().take(60).collect::<String>())
        } else {
            format!("{found:?}")
        };
        ElmanError::Arpa { path: self.path.clone(), line, expected: expected.to_string(), found }
    }

    /// The next line and its 1-based number, or an error at end of file.
    fn next(&mut self, expected: &str) -> Result<(usize, &'t str)> {
        match self.lines.next() {
            Some((i, line)) => {
                self.last_line = i + 1;
                Ok((i + 1, line))
            }
            None => Err(self.error(self.last_line + 1, expected, "end of file")),
        }
    }

    /// The next line that is not blank.
    fn next_non_blank(&mut self, expected: &str) -> Result<(usize, &'t str)> {
        loop {
            let (number, line) = self.next(expected)?;
            if !line.trim().is_empty() {
                return Ok((number, line));
            }
        }
    }
}

/// What the `# elman ngram model:` comment says, if present.
fn parse_header(line: &str, info: &mut ModelInfo) {
    for field in line[HEADER_PREFIX.len()..].split_whitespace() {
        match field.split_once('=') {
            Some(("tokenizer", name)) => info.tokenizer = Tokenizer::parse(name).unwrap_or(info.tokenizer),
            Some(("markers", yes)) => info.markers = yes == "yes",
            Some(("smoothing", s)) => info.smoothing = s.replace('_', " "),
            _ => {}
        }
    }
}

fn parse_log10(field: &str) -> Option<f32> {
    let value: f32 = field.parse().ok()?;
    if value.is_nan() {
        return None;
    }
    Some(if value <= LOG10_ZERO { f32::NEG_INFINITY } else { value })
}

/// Parses ARPA `text`; `path` names it in errors.
pub fn read_arpa(text: &str, path: &Path) -> Result<NgramModel<f32>> {
    let mut lines = Lines { path: path.to_path_buf(), lines: text.lines().enumerate().peekable(), last_line: 0 };
    let mut info = ModelInfo { tokenizer: Tokenizer::Word, markers: true, smoothing: "unknown".to_string() };
    let mut saw_header = false;
    let (number, line) = loop {
        let (number, line) = lines.next_non_blank("\\data\\")?;
        if line.starts_with(HEADER_PREFIX) {
            parse_header(line, &mut info);
            saw_header = true;
        } else if !line.starts_with('#') {
            break (number, line);
        }
    };
    if line.trim() != "\\data\\" {
        return Err(lines.error(number, "\\data\\", line));
    }
    let counts = read_counts(&mut lines)?;
    let mut vocab = NgramVocab::new();
    let mut levels: Vec<ModelLevel<f32>> = Vec::with_capacity(counts.len());
    let mut layout = KeyLayout::new(vocab.len(), 1)?;
    for (n, &count) in (1..).zip(&counts) {
        let (number, line) = lines.next_non_blank(&format!("\\{n}-grams:"))?;
        if line.trim() != format!("\\{n}-grams:") {
            return Err(lines.error(number, &format!("\\{n}-grams:"), line));
        }
        let entries = read_section(&mut lines, n, count, counts.len(), &mut vocab, info.tokenizer, layout)?;
        if n == 1 {
            layout = KeyLayout::new(vocab.len(), counts.len())?;
        }
        levels.push(sort_level(&lines, entries, n, counts.len())?);
    }
    let (number, line) = lines.next_non_blank("\\end\\")?;
    if line.trim() != "\\end\\" {
        return Err(lines.error(number, "\\end\\", line));
    }
    if !saw_header {
        info.markers = levels.first().is_some_and(|unigrams| unigrams.find(BOS as u128).is_some());
    }
    Ok(NgramModel { vocab, layout, info, levels })
}

/// The `ngram N=count` lines after `\data\`.
fn read_counts(lines: &mut Lines) -> Result<Vec<usize>> {
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
            .and_then(|(n, c)| Some((n.trim().parse::<usize>().ok()?, c.trim().parse::<usize>().ok()?)));
        match parsed {
            Some((n, c)) if n == counts.len() + 1 => counts.push(c),
            _ if line.trim().is_empty() => continue,
            _ => return Err(lines.error(number, &expected, line)),
        }
    }
}

/// One parsed line: key, source line, log10 p, log10 back-off.
type Entry = (u128, usize, f32, f32);

fn read_section(
    lines: &mut Lines,
    n: usize,
    count: usize,
    order: usize,
    vocab: &mut NgramVocab,
    tokenizer: Tokenizer,
    layout: KeyLayout,
) -> Result<Vec<Entry>> {
    let mut entries = Vec::with_capacity(count);
    let mut ids: Vec<u32> = Vec::with_capacity(n);
    while entries.len() < count {
        let expected = format!("a {n}-gram line (log10 probability, {n} token(s), optional back-off)");
        let (number, line) = lines.next_non_blank(&expected)?;
        if line.starts_with('\\') {
            let what = format!("{count} {n}-grams as the \\data\\ header says (found {})", entries.len());
            return Err(lines.error(number, &what, line));
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != n + 1 && fields.len() != n + 2 {
            return Err(lines.error(number, &expected, line));
        }
        let prob = parse_log10(fields[0]).ok_or_else(|| lines.error(number, "a log10 probability", fields[0]))?;
        let backoff = match fields.get(n + 1) {
            Some(_) if n == order => {
                return Err(lines.error(number, "no back-off weight on a highest-order n-gram", line));
            }
            Some(field) => parse_log10(field).ok_or_else(|| lines.error(number, "a log10 back-off weight", field))?,
            None => 0.0,
        };
        ids.clear();
        for &word in &fields[1..=n] {
            let token = match tokenizer {
                Tokenizer::Word => word.to_string(),
                Tokenizer::Char => unescape_char_token(word),
            };
            let id = if n == 1 {
                vocab.insert(&token)
            } else {
                vocab.get(&token).ok_or_else(|| lines.error(number, "a token listed among the 1-grams", word))?
            };
            ids.push(id);
        }
        // Unigram keys are the ids themselves, whatever the final layout.
        let key = if n == 1 { ids[0] as u128 } else { layout.pack(&ids) };
        entries.push((key, number, prob, backoff));
    }
    Ok(entries)
}

/// Sorts one order by key, refusing duplicates.
fn sort_level(lines: &Lines, mut entries: Vec<Entry>, n: usize, order: usize) -> Result<ModelLevel<f32>> {
    entries.sort_unstable_by_key(|e| (e.0, e.1));
    if let Some(pair) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        let what = format!("each {n}-gram once (first listed on line {})", pair[0].1);
        return Err(lines.error(pair[1].1, &what, "a repeat"));
    }
    let keys = entries.iter().map(|e| e.0).collect();
    let log10_prob = entries.iter().map(|e| e.2).collect();
    let log10_backoff = if n < order { entries.iter().map(|e| e.3).collect() } else { Vec::new() };
    Ok(ModelLevel { keys, log10_prob, log10_backoff })
}
