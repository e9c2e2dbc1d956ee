//! n-best lists in the common text form of SRILM and Kaldi, and their reranking.
//!
//! Each non-empty line is one hypothesis: `utterance-id acoustic-score lm-score word …`
//! (scores are log-likelihoods, larger is better). The hypotheses of one utterance share
//! its id; when no id repeats, Kaldi's numbering `utt-1`, `utt-2`, … is undone by dropping
//! a trailing `-N`. Reranking orders each utterance's hypotheses by
//! acoustic + w·(new LM score), best first, ties keeping the input order.

use crate::error::{ElmanError, Result};

/// One hypothesis as read.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    pub id: String,
    pub acoustic: f64,
    /// The LM score the list came with.
    pub lm: f64,
    pub words: Vec<String>,
}

/// An utterance's hypotheses, in input order.
#[derive(Clone, Debug, PartialEq)]
pub struct Utterance {
    pub id: String,
    pub hypotheses: Vec<Hypothesis>,
}

/// Reads an n-best file's text (`name` for errors, which give the line number).
pub fn parse(text: &str, name: &str) -> Result<Vec<Utterance>> {
    let mut hyps = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(id) = fields.next() else { continue };
        let bad = |what: &str| ElmanError::Data { what: format!("{name} line {}", i + 1), detail: what.to_string() };
        let mut score = |which: &str| -> Result<f64> {
            let field = fields.next().ok_or_else(|| bad(&format!("expected `id acoustic lm words…`, but the {which} score is missing")))?;
            field.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| bad(&format!("the {which} score {field:?} is not a finite number")))
        };
        let acoustic = score("acoustic")?;
        let lm = score("LM")?;
        hyps.push(Hypothesis { id: id.to_string(), acoustic, lm, words: fields.map(str::to_string).collect() });
    }
    if hyps.is_empty() {
        return Err(ElmanError::Data { what: name.to_string(), detail: "holds no hypotheses".into() });
    }
    let distinct = hyps.iter().map(|h| h.id.as_str()).collect::<std::collections::HashSet<_>>().len() == hyps.len();
    let utterance_of = |id: &str| -> String {
        match id.rsplit_once('-') {
            Some((utt, n)) if distinct && !utt.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => utt.to_string(),
            _ => id.to_string(),
        }
    };
    let mut out: Vec<Utterance> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for h in hyps {
        let utt = utterance_of(&h.id);
        let at = *index.entry(utt.clone()).or_insert_with(|| {
            out.push(Utterance { id: utt, hypotheses: Vec::new() });
            out.len() - 1
        });
        out[at].hypotheses.push(h);
    }
    Ok(out)
}

/// One reranked hypothesis.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked<'a> {
    pub hypothesis: &'a Hypothesis,
    /// The new LM score (log10).
    pub lm: f64,
    /// acoustic + w·lm.
    pub total: f64,
}

/// The hypotheses of `utterance` with their new LM scores `lm` (in input order), best
/// first by acoustic + `weight`·lm.
pub fn rerank<'a>(utterance: &'a Utterance, lm: &[f64], weight: f64) -> Vec<Ranked<'a>> {
    let mut ranked: Vec<Ranked> = utterance.hypotheses.iter().zip(lm).map(|(h, &lm)| Ranked { hypothesis: h, lm, total: h.acoustic + weight * lm }).collect();
    ranked.sort_by(|a, b| b.total.total_cmp(&a.total));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaldi_numbering_groups_and_shared_ids_group() {
        let kaldi = parse("utt1-1 -10 -5 a b\nutt1-2 -11 -4 a c\nutt2-1 -3 -2\n", "n").unwrap();
        assert_eq!(kaldi.iter().map(|u| (u.id.as_str(), u.hypotheses.len())).collect::<Vec<_>>(), [("utt1", 2), ("utt2", 1)]);
        assert!(kaldi[1].hypotheses[0].words.is_empty());
        let shared = parse("s-1 -1 -1 x\ns-1 -2 -2 y\ns-2 0 0 z\n", "n").unwrap();
        assert_eq!(shared.iter().map(|u| (u.id.as_str(), u.hypotheses.len())).collect::<Vec<_>>(), [("s-1", 2), ("s-2", 1)]);
    }

    #[test]
    fn bad_lines_name_their_number() {
        let e = parse("u-1 -1 -1 a\nu-2 -1\n", "list.txt").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("LM score"), "{e}");
        let e = parse("u-1 x -1 a\n", "list.txt").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("\"x\""), "{e}");
        assert!(parse("\n\n", "list.txt").is_err());
    }

    #[test]
    fn rerank_orders_by_the_weighted_sum() {
        let u = &parse("u-1 -10 0 a\nu-2 -11 0 b\n", "n").unwrap()[0];
        let ranked = rerank(u, &[-3.0, -1.0], 1.0);
        assert_eq!(ranked[0].hypothesis.words, ["b"]);
        assert_eq!(ranked[0].total, -12.0);
        let ranked = rerank(u, &[-3.0, -1.0], 0.1);
        assert_eq!(ranked[0].hypothesis.words, ["a"]);
    }
}
