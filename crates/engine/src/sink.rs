use std::io::Write;
use std::ops::Range;

/// What a sink wants after a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Send more batches.
    Continue,
    /// Stop the run after this batch (not an error).
    Stop,
}

/// Where batches of encoded names go. The engine pushes to it from one
/// thread, in position order when [`Sink::ordered`] is true.
///
/// A batch's bytes are whatever the run's [`Encoder`](crate::Encoder)
/// wrote for `positions`; the buffer goes back to the pool when
/// `write_batch` returns, so a sink copies what it keeps.
pub trait Sink {
    /// The sink's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Whether batches must arrive in position order (a file must; a table
    /// with an index column need not).
    fn ordered(&self) -> bool {
        true
    }

    /// Called once before the first batch with the positions of the run.
    fn begin(&mut self, positions: Range<u64>) -> Result<(), Self::Error> {
        let _ = positions;
        Ok(())
    }

    /// Consumes one batch: the encoded names at `positions`.
    fn write_batch(&mut self, positions: Range<u64>, bytes: &[u8]) -> Result<Flow, Self::Error>;

    /// Called once after the last batch written (also after a stop or a
    /// cancellation, not after an error).
    fn finish(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Writes batches to any [`Write`] (a file, standard output), in order.
/// Batches are large, so no extra buffering is needed.
#[derive(Debug)]
pub struct WriteSink<W> {
    writer: W,
    bytes: u64,
}

impl<W: Write> WriteSink<W> {
    /// A sink writing to `writer`.
    pub fn new(writer: W) -> WriteSink<W> {
        WriteSink { writer, bytes: 0 }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.writer
    }
}

impl<W: Write> Sink for WriteSink<W> {
    type Error = std::io::Error;

    fn write_batch(&mut self, _: Range<u64>, bytes: &[u8]) -> Result<Flow, std::io::Error> {
        self.writer.write_all(bytes)?;
        self.bytes += bytes.len() as u64;
        Ok(Flow::Continue)
    }

    fn finish(&mut self) -> Result<(), std::io::Error> {
        self.writer.flush()
    }
}

/// Discards batches, counting their bytes: for benchmarks.
#[derive(Debug, Default)]
pub struct NullSink {
    /// Bytes received.
    pub bytes: u64,
    /// Whether batches may arrive out of order.
    pub unordered: bool,
}

impl Sink for NullSink {
    type Error = std::convert::Infallible;

    fn ordered(&self) -> bool {
        !self.unordered
    }

    fn write_batch(&mut self, _: Range<u64>, bytes: &[u8]) -> Result<Flow, Self::Error> {
        self.bytes += bytes.len() as u64;
        Ok(Flow::Continue)
    }
}
