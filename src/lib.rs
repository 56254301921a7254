/*!
domgen generates domain names from keywords, TLDs and patterns, exactly and
in bounded memory.

This crate is the facade over domgen's parts and the home of the `domgen`
command. The parts:

- [`pattern`] (`domgen-pattern`): the [`Spec`], the pattern language, the
  hostname rules, and the exact [`Space`] with its index ⇄ name mapping and
  orders. No I/O.
- [`engine`] (`domgen-engine`): the parallel, memory-bounded generator:
  planner, workers, pooled buffers, sinks, cancellation, run reports.
- [`alloc`] (`domgen-alloc`): the counting allocator over mimalloc and
  process memory figures. A host installs it with `#[global_allocator]`.
- [`pg`] (`domgen-pg`): migrations, the binary COPY encoder and sink,
  the batch ledger and resume.
- [`cluster`] (`domgen-cluster`): the local (embedded) PostgreSQL cluster
  under a directory, run with the machine's `initdb` and `pg_ctl`.
- [`load`]: reading spec and word files from disk into a [`Spec`].

# Example

```
use domgen::{Space, Spec, WordList};

let spec = Spec {
    patterns: vec!["shop{alpha:2}{digit:1}.com".into()],
    ..Spec::default()
};
let space = Space::compile(&spec)?;
assert_eq!(space.total(), 26 * 26 * 10);

let mut out = Vec::new();
let mut cursor = space.cursor(0..3);
cursor.write_lines(&mut out, u64::MAX, b'\n');
assert_eq!(out, b"shopaa0.com\nshopaa1.com\nshopaa2.com\n");
# Ok::<(), Box<dyn std::error::Error>>(())
```

# Crate features

This crate has no optional features.
*/

#![deny(missing_docs)]

pub mod load;

pub use domgen_alloc as alloc;
pub use domgen_cluster as cluster;
pub use domgen_engine as engine;
pub use domgen_monitor as monitor;
pub use domgen_pattern as pattern;
pub use domgen_pattern::{
    Cursor, DomainflowConfig, Error, ErrorKind, Filter, FilterFile, FilterRule, ListDef, Order,
    PatternInfo, Space, Spec, SpecFile, WordList,
};
pub use domgen_pg as pg;
