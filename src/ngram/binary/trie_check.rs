//! Checking the hashed layout when its file opens: what lookups and walks rely on to stay
//! in bounds and to end. For order n < N with entries e_0 … e_{L_n} (the last the
//! sentinel) and a hash table T_{n+1} per order above the first:
//!
//! ```text
//! child(e_0) = 0 ≤ child(e_1) ≤ … ≤ child(e_{L_n}) = L_{n+1},    every slot of T_n ≤ L_n
//! ```
//!
//! and no log10 probability is +∞, no back-off NaN or +∞. The ends are checked once; the
//! entries and slots in the pieces of the file's one checked pass ([`super::verify`]).
//! Tokens are not read: as in the compact layout, a wrong one makes lookups miss, never
//! stray.

use super::trie::{Node, Trie};
use super::verify::SectionCheck;
use crate::error::{ElmanError, Result};
use std::ops::Range;

/// How the checks word an error.
type Bad<'b> = &'b (dyn Fn(String) -> ElmanError + Sync);

impl Trie<'_> {
    /// Entries of order `level + 1`, its sentinel not counted.
    fn entries(&self, level: usize) -> usize {
        self.inner.get(level).map_or(self.top.len(), |nodes| nodes.len() - 1)
    }

    /// Checks each order's first and last child pointers (0 and the next order's length).
    pub fn check_ends(&self, bad: Bad<'_>) -> Result<()> {
        for (level, nodes) in self.inner.iter().enumerate() {
            let (first, last) = (nodes.first().map_or(0, |n| n.child), nodes.last().map_or(0, |n| n.child));
            if first != 0 || last as usize != self.entries(level + 1) {
                return Err(bad(format!("the child ranges of order {} do not start at 0 and end at the next order's length", level + 1)));
            }
        }
        Ok(())
    }

    /// The checks of every order's entries and hash-table slots, for the file `file` they
    /// lie in.
    pub fn section_checks<'c>(&'c self, file: &[u8], bad: Bad<'c>) -> Vec<SectionCheck<'c>> {
        let mut checks: Vec<SectionCheck<'c>> = Vec::new();
        for (level, &nodes) in self.inner.iter().enumerate() {
            let next_len = self.entries(level + 1);
            checks.push(SectionCheck::new(file, nodes, 128, nodes.len() - 1, move |range| check_nodes(nodes, range, next_len, level + 1, bad)));
        }
        let (top, order) = (self.top, self.inner.len() + 1);
        checks.push(SectionCheck::new(file, top, 64, top.len(), move |range: Range<usize>| {
            match top[range].iter().fold(false, |acc, leaf| acc | (leaf.prob == f32::INFINITY)) {
                true => Err(bad(format!("order {order} holds a log10 value of +inf"))),
                false => Ok(()),
            }
        }));
        for (i, &table) in self.tables.iter().enumerate() {
            let len = self.entries(i + 1);
            checks.push(SectionCheck::new(file, table, 32, table.len(), move |range: Range<usize>| {
                match table[range].iter().fold(false, |acc, &slot| acc | (slot as usize > len)) {
                    true => Err(bad("a child hash table holds an entry past its order".into())),
                    false => Ok(()),
                }
            }));
        }
        checks
    }
}

/// The checks of the entries `range` of order `n` (`nodes` with its sentinel): values,
/// and child pointers with the one after the last, rising inside the next order's
/// `next_len` entries.
fn check_nodes(nodes: &[Node], range: Range<usize>, next_len: usize, n: usize, bad: Bad<'_>) -> Result<()> {
    // One pass, no branch the data decides: each entry's values, and its child pointer
    // against the one before (the entry after the last included).
    let (mut flawed, mut falls) = (false, false);
    let mut previous = nodes[range.start].child;
    for (node, next) in nodes[range.clone()].iter().zip(&nodes[range.start + 1..=range.end]) {
        flawed |= (node.prob == f32::INFINITY) | node.backoff.is_nan() | (node.backoff == f32::INFINITY);
        falls |= next.child < previous;
        previous = next.child;
    }
    if flawed {
        return Err(bad(format!("order {n} holds a log10 value that is +inf or NaN")));
    }
    if falls || previous as usize > next_len {
        return Err(bad(format!("the child ranges of order {n} are out of order or out of bounds")));
    }
    Ok(())
}
