/*!
domgen's parallel engine: renders position ranges of a [`Space`](domgen_pattern::Space) on worker
threads into pooled buffers and pushes them to a [`Sink`], in memory
bounded by the in-flight limit whatever the number of names.

The parts: a [`Generator`] (built with [`GeneratorBuilder`]: threads,
memory budget, batch size, in-flight limit) runs an [`Encoder`] (how names
become bytes: [`Lines`] for files, COPY rows for PostgreSQL) into a
[`Sink`] (push-model: `begin`, `write_batch`, `finish`; [`WriteSink`] for
files and standard output). [`RunOptions`] say which positions a run writes
and, optionally, its batch size, a [`CancelToken`] that stops it at a batch
boundary and a callback for the progress after every batch; every run
returns a [`Report`] of what it wrote and what it cost.

# Example

```
use domgen_engine::{GeneratorBuilder, Lines, RunOptions, WriteSink};
use domgen_pattern::{Space, Spec};

let spec = Spec { patterns: vec!["shop{alpha:2}{digit:1}.com".into()], ..Spec::default() };
let space = Space::compile(&spec)?;
let generator = GeneratorBuilder::new().threads(2).batch_names(100).build()?;
let mut sink = WriteSink::new(Vec::new());
let report = generator.run(&space, &Lines, &mut sink, RunOptions::new(0..space.total()))?;
assert_eq!(report.names, 6760);
let out = sink.into_inner();
assert!(out.starts_with(b"shopaa0.com\nshopaa1.com\n"));
assert!(out.ends_with(b"shopzz9.com\n"));
# Ok::<(), Box<dyn std::error::Error>>(())
```

# Errors

An [`Error`] has an [`ErrorKind`]. Its message names a setting by the
builder method that sets it, in backticks (`` `GeneratorBuilder::threads` ``,
`` `GeneratorBuilder::memory_budget` ``), so that a front end that exposes
the settings under other names (the `domgen` binary's flags) can replace
those references with its own.

# Telemetry

Runs report through the [`metrics`] facade and [`tracing`], to whatever
recorder and subscriber the host installed; [`telemetry`] names the
metrics and describes them.

# Crate features

This crate has no optional features.
*/

#![deny(missing_docs)]

mod encode;
mod error;
mod gauge;
mod run;
mod sink;
pub mod telemetry;

pub use crate::encode::{Encoder, Lines};
pub use crate::error::{Error, ErrorKind};
pub use crate::gauge::Gauge;
pub use crate::run::{
    CancelToken, DEFAULT_MEMORY_BUDGET, Generator, GeneratorBuilder, Progress, Report, RunOptions,
};
pub use crate::sink::{Flow, NullSink, Sink, WriteSink};
