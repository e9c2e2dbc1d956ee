//! The per-step token upload: one u32 buffer with four sections, written once per step.
//!
//! | section  | offset | length | content                                            |
//! |----------|--------|--------|----------------------------------------------------|
//! | inputs   | 0      | R      | input token of row r = t·n + i                     |
//! | targets  | R      | R      | next-token target of row r                         |
//! | order    | 2R     | R      | rows sorted by input token (stable counting sort)  |
//! | offsets  | 3R     | V + 1  | token v's rows are order[offsets[v]..offsets[v+1]] |
//!
//! R is the trainer's capacity n·T; a shorter batch fills a prefix of each section. The
//! order/offsets index lets embedding_scatter_add sum each vocabulary row's gradient
//! without atomics.

/// Section offsets for capacity R rows and vocabulary V.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLayout {
    pub capacity: usize,
    pub vocab: usize,
}

impl TokenLayout {
    pub fn inputs_off(&self) -> u32 {
        0
    }
    pub fn targets_off(&self) -> u32 {
        self.capacity as u32
    }
    pub fn order_off(&self) -> u32 {
        2 * self.capacity as u32
    }
    pub fn offsets_off(&self) -> u32 {
        3 * self.capacity as u32
    }
    /// Elements of the whole buffer.
    pub fn len(&self) -> usize {
        3 * self.capacity + self.vocab + 1
    }
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The buffer image for `inputs`/`targets` (equal lengths ≤ capacity, ids < V).
    pub fn pack(&self, inputs: &[u32], targets: &[u32]) -> Vec<u32> {
        let r = self.capacity;
        let mut out = vec![0u32; self.len()];
        out[..inputs.len()].copy_from_slice(inputs);
        out[r..r + targets.len()].copy_from_slice(targets);
        let offsets = &mut out[3 * r..];
        for &tok in inputs {
            offsets[tok as usize + 1] += 1;
        }
        for v in 0..self.vocab {
            offsets[v + 1] += offsets[v];
        }
        let mut next: Vec<u32> = offsets[..self.vocab].to_vec();
        for (row, &tok) in inputs.iter().enumerate() {
            out[2 * r + next[tok as usize] as usize] = row as u32;
            next[tok as usize] += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_groups_rows_by_token_stably() {
        let layout = TokenLayout { capacity: 6, vocab: 4 };
        let packed = layout.pack(&[2, 0, 2, 3, 0], &[1, 1, 1, 1, 1]);
        assert_eq!(&packed[12..17], &[1, 4, 0, 2, 3]); // token 0: rows 1,4; token 2: rows 0,2; token 3: row 3
        assert_eq!(&packed[18..23], &[0, 2, 2, 4, 5]);
    }
}
