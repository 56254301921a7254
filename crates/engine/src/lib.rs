/*!
domgen's parallel engine: renders position ranges of a [`Space`] on worker
threads into pooled buffers and pushes them to a [`Sink`], in memory
bounded by the in-flight limit whatever the number of names.

The parts: a [`Generator`] (built with [`GeneratorBuilder`]: threads,
memory budget, batch size, in-flight limit) runs an [`Encoder`] (how names
become bytes: [`Lines`] for files, COPY rows for PostgreSQL) into a
[`Sink`] (push-model: `begin`, `write_batch`, `finish`; [`WriteSink`] for
files and standard output). A [`CancelToken`] stops a run at a batch
boundary, progress arrives after every batch, and every run returns a
[`Report`] of what it wrote and what it cost.

# Example

```
use domgen_engine::{GeneratorBuilder, Lines, WriteSink};
use domgen_pattern::{Space, Spec};

let spec = Spec { patterns: vec!["shop{alpha:2}{digit:1}.com".into()], ..Spec::default() };
let space = Space::compile(&spec)?;
let generator = GeneratorBuilder::new().threads(2).batch_names(100).build()?;
let mut sink = WriteSink::new(Vec::new());
let report = generator.run(&space, 0..space.total(), &Lines, &mut sink, None, &mut |_| {})?;
assert_eq!(report.names, 6760);
let out = sink.into_inner();
assert!(out.starts_with(b"shopaa0.com\nshopaa1.com\n"));
assert!(out.ends_with(b"shopzz9.com\n"));
# Ok::<(), Box<dyn std::error::Error>>(())
```

# Crate features

This crate has no optional features.
*/

#![deny(missing_docs)]

mod encode;
mod error;
mod gauge;
mod run;
mod sink;

pub use crate::encode::{Encoder, Lines};
pub use crate::error::{Error, ErrorKind};
pub use crate::gauge::Gauge;
pub use crate::run::{
    CancelToken, DEFAULT_MEMORY_BUDGET, Generator, GeneratorBuilder, Progress, Report,
};
pub use crate::sink::{Flow, NullSink, Sink, WriteSink};
