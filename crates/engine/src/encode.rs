use std::ops::Range;

use domgen_pattern::Space;

/// Renders a batch of positions into a sink-ready byte buffer.
///
/// An encoder runs on many worker threads at once, each with its own
/// buffer; it appends to `out` and allocates nothing per name.
pub trait Encoder: Sync {
    /// The most bytes one name can take once encoded, given the longest
    /// name of the space. Batch sizes are derived from it.
    fn max_bytes_per_name(&self, max_name_len: usize) -> usize;

    /// Bytes a batch takes besides its names (a header and a trailer).
    fn batch_overhead(&self) -> usize {
        0
    }

    /// Refuses positions this encoding cannot represent (binary COPY's
    /// `int8`, say), with a message for the user. The engine asks before a
    /// run starts, so [`Encoder::encode`] only sees positions admitted here.
    fn check_positions(&self, positions: &Range<u64>) -> Result<(), String> {
        let _ = positions;
        Ok(())
    }

    /// Appends the encoding of the names at `positions` to `out`. The
    /// positions lie in the space and passed [`Encoder::check_positions`];
    /// an encoder may panic otherwise.
    fn encode(&self, space: &Space, positions: Range<u64>, out: &mut Vec<u8>);
}

/// One name per line: the name, then `\n`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lines;

impl Encoder for Lines {
    fn max_bytes_per_name(&self, max_name_len: usize) -> usize {
        max_name_len + 1
    }

    fn encode(&self, space: &Space, positions: Range<u64>, out: &mut Vec<u8>) {
        let count = positions.end - positions.start;
        space.cursor(positions).write_lines(out, count, b'\n');
    }
}
