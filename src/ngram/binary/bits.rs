//! Bit-packed fixed-width records: a writer that appends fields, and a reader that takes
//! a field from any bit offset with one unaligned 8-byte load.
//!
//! Field j of width w_j at bit b sits in bits b … b + w_j − 1 of the little-endian bit
//! stream (bit b is bit b mod 8 of byte ⌊b / 8⌋). A field is at most 32 bits wide, so it
//! lies inside the 8 bytes from byte ⌊b / 8⌋; the writer pads the stream with 8 zero bytes
//! so that the load never runs past the end.

/// The widest field.
pub const MAX_FIELD_BITS: u32 = 32;

/// Bits needed to write every value in 0 ..= `max`.
pub fn required_bits(max: u64) -> u32 {
    64 - max.leading_zeros()
}

/// The field of `width` bits at bit `at` of `bytes` (0 where the bytes end early: a damaged
/// file reads wrong values, never out of bounds).
#[inline]
pub fn read_bits(bytes: &[u8], at: u64, width: u32) -> u32 {
    let byte = (at / 8) as usize;
    let Some(word) = bytes.get(byte..byte.wrapping_add(8)) else { return 0 };
    let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
    let mask = (1u64 << width) - 1;
    ((word >> (at % 8)) & mask) as u32
}

/// Appends fields to a bit stream.
#[derive(Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits written.
    len: u64,
}

impl BitWriter {
    /// A writer that expects about `bits` bits.
    pub fn with_capacity(bits: u64) -> Self {
        BitWriter { bytes: Vec::with_capacity((bits / 8) as usize + 16), len: 0 }
    }

    /// Appends the low `width` bits of `value` (the rest must be zero).
    pub fn push(&mut self, value: u32, width: u32) {
        debug_assert!(width <= MAX_FIELD_BITS && (width == 32 || value >> width == 0));
        let mut value = value as u64;
        let mut width = width as u64;
        while width > 0 {
            let offset = self.len % 8;
            if offset == 0 {
                self.bytes.push(0);
            }
            let take = (8 - offset).min(width);
            let last = self.bytes.last_mut().expect("a byte was pushed");
            *last |= ((value & ((1 << take) - 1)) << offset) as u8;
            value >>= take;
            width -= take;
            self.len += take;
        }
    }

    /// The stream, padded with 8 zero bytes for [`read_bits`].
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0u8; 8]);
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_at_every_offset_and_width() {
        let mut rng = crate::rng::Rng::new(5);
        let fields: Vec<(u32, u32)> = (0..2000)
            .map(|_| {
                let width = 1 + (rng.next_u64() % 32) as u32;
                let value = (rng.next_u64() as u32) & (((1u64 << width) - 1) as u32);
                (value, width)
            })
            .collect();
        let mut writer = BitWriter::default();
        for &(value, width) in &fields {
            writer.push(value, width);
        }
        let bytes = writer.finish();
        let mut at = 0u64;
        for &(value, width) in &fields {
            assert_eq!(read_bits(&bytes, at, width), value, "width {width} at bit {at}");
            at += width as u64;
        }
        assert_eq!(required_bits(0), 0);
        assert_eq!(required_bits(1), 1);
        assert_eq!(required_bits(10000), 14);
        assert_eq!(required_bits(16384), 15);
    }
}
