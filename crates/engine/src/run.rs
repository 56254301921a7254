use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use domgen_pattern::Space;
use serde::Serialize;

use crate::encode::Encoder;
use crate::error::Error;
use crate::gauge::Gauge;
use crate::sink::{Flow, Sink};
use crate::telemetry;

/// The memory budget when none is given.
pub const DEFAULT_MEMORY_BUDGET: u64 = 64 << 20;

/// The largest batch buffer the budget is cut into: past this, larger
/// batches do not write faster, they only hold more memory.
const MAX_BATCH_BYTES: u64 = 1 << 20;

/// What the engine itself needs besides batch buffers (thread-pool and
/// channel bookkeeping), counted against the budget.
const FIXED_OVERHEAD: u64 = 64 << 10;

/// Builds a [`Generator`]: threads, memory budget, batch size, in-flight
/// limit. Unset values are derived from the budget.
#[derive(Clone, Debug)]
pub struct GeneratorBuilder {
    threads: Option<usize>,
    memory_budget: u64,
    batch_names: Option<u64>,
    in_flight: Option<usize>,
    pooled: bool,
    gauge: Option<Arc<Gauge>>,
}

impl Default for GeneratorBuilder {
    fn default() -> GeneratorBuilder {
        GeneratorBuilder::new()
    }
}

impl GeneratorBuilder {
    /// All cores, the default budget, sizes derived from it.
    pub fn new() -> GeneratorBuilder {
        GeneratorBuilder {
            threads: None,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            batch_names: None,
            in_flight: None,
            pooled: true,
            gauge: None,
        }
    }

    /// Worker threads (default: the number of cores).
    pub fn threads(&mut self, threads: usize) -> &mut GeneratorBuilder {
        self.threads = Some(threads);
        self
    }

    /// The most heap a run may hold above what was live when it started.
    pub fn memory_budget(&mut self, bytes: u64) -> &mut GeneratorBuilder {
        self.memory_budget = bytes;
        self
    }

    /// Names per batch, instead of deriving it from the budget.
    pub fn batch_names(&mut self, names: u64) -> &mut GeneratorBuilder {
        self.batch_names = Some(names);
        self
    }

    /// Batches that may exist at once (rendering, waiting, being written);
    /// default: [`GeneratorBuilder::default_in_flight`] of the threads.
    pub fn in_flight(&mut self, batches: usize) -> &mut GeneratorBuilder {
        self.in_flight = Some(batches);
        self
    }

    /// Reuse batch buffers through the pool (default). `false` allocates a
    /// fresh buffer per batch; it exists to measure what pooling buys.
    pub fn pooled(&mut self, pooled: bool) -> &mut GeneratorBuilder {
        self.pooled = pooled;
        self
    }

    /// A [`Gauge`] the runs update (batches in flight, arena resets) and
    /// whose throttle lowers their in-flight limit, e.g. a memory monitor's.
    pub fn gauge(&mut self, gauge: Arc<Gauge>) -> &mut GeneratorBuilder {
        self.gauge = Some(gauge);
        self
    }

    /// The in-flight limit of a generator with `threads` worker threads
    /// when [`GeneratorBuilder::in_flight`] is not set: `2 × threads + 2`.
    /// A memory monitor that throttles the engine scales from it; a built
    /// generator tells its own limit with [`Generator::in_flight`].
    pub const fn default_in_flight(threads: usize) -> usize {
        threads.saturating_mul(2).saturating_add(2)
    }

    /// Validates the settings and starts the worker threads.
    pub fn build(&self) -> Result<Generator, Error> {
        let threads = match self.threads {
            Some(0) => {
                return Err(Error::config(
                    "`GeneratorBuilder::threads` must be at least 1",
                ));
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if self.batch_names == Some(0) {
            return Err(Error::config("the batch size must be at least 1 name"));
        }
        if self.in_flight == Some(0) {
            return Err(Error::config(
                "the in-flight limit must be at least 1 batch",
            ));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("domgen-worker-{i}"))
            .build()
            .map_err(|e| Error::config(format!("cannot start {threads} worker threads: {e}")))?;
        let generator = Generator {
            settings: self.clone(),
            threads,
            pool,
        };
        generator.warm_up();
        Ok(generator)
    }
}

/// Runs generations: renders position ranges of a [`Space`] on worker
/// threads and pushes them to a [`Sink`], in bounded memory.
///
/// A planner cuts the positions into batches and hands each to a worker
/// through a bounded channel; the worker takes a buffer from the pool,
/// encodes the batch into it and sends it back; the calling thread writes
/// finished batches to the sink (in order, through a reorder window, when
/// the sink asks for order) and returns their buffers to the pool. At most
/// `in_flight` buffers exist at once, so a run holds at most
/// `in_flight × batch bytes` of names, whatever its length.
pub struct Generator {
    settings: GeneratorBuilder,
    threads: usize,
    pool: rayon::ThreadPool,
}

/// A token that stops runs at the next batch boundary. Clones share it.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks runs using this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a [`Generator::run`] writes, and how: the positions, and optionally
/// a fixed batch size, a cancel token and a progress callback.
///
/// Start from [`RunOptions::new`] and set what differs with struct update
/// syntax:
///
/// ```
/// # use domgen_engine::{CancelToken, Progress, RunOptions};
/// let token = CancelToken::new();
/// let mut written = 0;
/// let mut progress = |p: &Progress| written = p.written;
/// let options = RunOptions {
///     batch_names: Some(500),
///     cancel: Some(&token),
///     progress: Some(&mut progress),
///     ..RunOptions::new(1_000..5_000)
/// };
/// # drop(options);
/// ```
pub struct RunOptions<'a> {
    /// The positions of the space to write.
    pub positions: Range<u64>,
    /// Batches of exactly this many names (the last may be shorter), for
    /// callers whose batches must fall on a fixed grid, such as a resumed
    /// campaign's ledger; `None` takes the generator's batch size
    /// ([`GeneratorBuilder::batch_names`], or derived from the budget).
    pub batch_names: Option<u64>,
    /// Stops the run at the next batch boundary once cancelled.
    pub cancel: Option<&'a CancelToken>,
    /// Called after every batch written.
    pub progress: Option<&'a mut dyn FnMut(&Progress)>,
}

impl<'a> RunOptions<'a> {
    /// Writes `positions`, in the generator's batch size, with no cancel
    /// token and no progress callback.
    pub fn new(positions: Range<u64>) -> RunOptions<'a> {
        RunOptions {
            positions,
            batch_names: None,
            cancel: None,
            progress: None,
        }
    }
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("positions", &self.positions)
            .field("batch_names", &self.batch_names)
            .field("cancel", &self.cancel)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Where a run is, reported after each batch written.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Names written so far.
    pub written: u64,
    /// Names the run was asked for.
    pub total: u64,
    /// Time since the run started.
    pub elapsed: Duration,
    /// Live heap bytes, when the counting allocator is installed.
    pub live_bytes: Option<u64>,
}

/// How a run went: what it wrote and what it cost.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Names written.
    pub names: u64,
    /// The positions asked for.
    pub requested: Range<u64>,
    /// The positions written, as ranges (one range unless the sink is
    /// unordered and the run stopped early).
    pub written: Vec<Range<u64>>,
    /// Whether the run was cancelled or the sink stopped it.
    pub stopped_early: bool,
    /// Batches written.
    pub batches: u64,
    /// Names per batch.
    pub batch_names: u64,
    /// The most bytes a batch can take.
    pub batch_bytes: u64,
    /// Batches that could exist at once.
    pub in_flight: usize,
    /// Worker threads.
    pub threads: usize,
    /// Wall time.
    pub duration_secs: f64,
    /// Names written per second.
    pub names_per_sec: f64,
    /// Bytes handed to the sink.
    pub bytes_out: u64,
    /// Heap bytes allocated during the run (counting allocator only).
    pub allocated_bytes: Option<u64>,
    /// Heap allocations during the run (counting allocator only).
    pub allocations: Option<u64>,
    /// Peak live heap during the run (counting allocator only).
    pub peak_live_bytes: Option<u64>,
    /// Live heap when the run started.
    pub live_bytes_before: Option<u64>,
    /// Live heap after the workers finished and the pool was emptied.
    pub live_bytes_after: Option<u64>,
    /// Whole-process peak resident set at the end of the run.
    pub peak_rss_bytes: Option<u64>,
    /// The most buffer capacity held at once (the "arena" of the run).
    pub arena_bytes: u64,
    /// Batches that reused a pooled buffer.
    pub pool_hits: u64,
    /// Batches that had to allocate a buffer.
    pub pool_misses: u64,
    /// Times the planner waited because the live heap was over budget.
    pub memory_waits: u64,
    /// The memory budget.
    pub memory_budget: u64,
}

impl Report {
    /// Adds a later run's figures to these: counts and times add up,
    /// peaks take the larger, the heap before stays, the heap after is the
    /// later run's.
    pub fn absorb(&mut self, later: Report) {
        self.names += later.names;
        self.requested.end = self.requested.end.max(later.requested.end);
        self.written.extend(later.written);
        self.stopped_early |= later.stopped_early;
        self.batches += later.batches;
        self.duration_secs += later.duration_secs;
        self.names_per_sec = if self.duration_secs > 0.0 {
            self.names as f64 / self.duration_secs
        } else {
            0.0
        };
        self.bytes_out += later.bytes_out;
        let add = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| a + b);
        self.allocated_bytes = add(self.allocated_bytes, later.allocated_bytes);
        self.allocations = add(self.allocations, later.allocations);
        self.peak_live_bytes = self.peak_live_bytes.max(later.peak_live_bytes);
        self.live_bytes_after = later.live_bytes_after;
        self.peak_rss_bytes = self.peak_rss_bytes.max(later.peak_rss_bytes);
        self.arena_bytes = self.arena_bytes.max(later.arena_bytes);
        self.pool_hits += later.pool_hits;
        self.pool_misses += later.pool_misses;
        self.memory_waits += later.memory_waits;
    }

    /// Live heap after minus before: what the run left behind.
    pub fn leaked_bytes(&self) -> Option<i64> {
        let after = i64::try_from(self.live_bytes_after?).ok()?;
        let before = i64::try_from(self.live_bytes_before?).ok()?;
        Some(after - before)
    }
}

/// The sizes a run uses.
#[derive(Clone, Copy, Debug)]
struct Plan {
    batch_names: u64,
    batch_bytes: u64,
    in_flight: usize,
    max_bytes_per_name: u64,
    overhead: u64,
}

/// A run's metric handles, registered once so that a batch pays an
/// atomic add at most (nothing when no recorder is installed).
struct Meters {
    names: metrics::Counter,
    in_flight: metrics::Gauge,
    live_heap: metrics::Gauge,
    memory_waits: metrics::Counter,
    /// Whether batches are told as `tracing` events too.
    events: bool,
}

impl Meters {
    fn new() -> Meters {
        Meters {
            names: metrics::counter!(telemetry::NAMES_GENERATED),
            in_flight: metrics::gauge!(telemetry::BATCHES_IN_FLIGHT),
            live_heap: metrics::gauge!(telemetry::LIVE_HEAP_BYTES),
            memory_waits: metrics::counter!(telemetry::MEMORY_WAITS),
            events: true,
        }
    }

    /// Handles that record nothing, and no events: the warm-up is not a
    /// run to report.
    fn noop() -> Meters {
        Meters {
            names: metrics::Counter::noop(),
            in_flight: metrics::Gauge::noop(),
            live_heap: metrics::Gauge::noop(),
            memory_waits: metrics::Counter::noop(),
            events: false,
        }
    }
}

struct Job {
    seq: u64,
    positions: Range<u64>,
    buf: Vec<u8>,
}

struct Done {
    seq: u64,
    positions: Range<u64>,
    buf: Vec<u8>,
    /// A worker's panic message, if encoding panicked.
    panic: Option<String>,
}

impl Generator {
    /// A generator with default settings.
    pub fn new() -> Result<Generator, Error> {
        GeneratorBuilder::new().build()
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The batch size given to the builder
    /// ([`GeneratorBuilder::batch_names`]), if one was: a writer that
    /// steers its batch size by measurement keeps to a pinned one.
    pub fn pinned_batch_names(&self) -> Option<u64> {
        self.settings.batch_names
    }

    /// The most batches a run holds at once, before a [`Gauge`] throttles
    /// it: the builder's [`in_flight`](GeneratorBuilder::in_flight), or
    /// [`GeneratorBuilder::default_in_flight`] of the threads.
    pub fn in_flight(&self) -> usize {
        self.settings
            .in_flight
            .unwrap_or(GeneratorBuilder::default_in_flight(self.threads))
    }

    /// Runs one tiny generation so that what threads allocate once, on
    /// first use (channel wait contexts, thread-locals), is allocated now
    /// and not counted as left behind by the first real run.
    fn warm_up(&self) {
        let spec = domgen_pattern::Spec {
            patterns: vec!["{digit:3}.com".into()],
            ..domgen_pattern::Spec::default()
        };
        let space = Space::compile(&spec).expect("a simple pattern compiles");
        let plan = Plan {
            batch_names: 1,
            batch_bytes: 8,
            in_flight: self.in_flight(),
            max_bytes_per_name: 8,
            overhead: 0,
        };
        let mut sink = crate::sink::NullSink::default();
        let _ = self.run_plan(
            plan,
            &space,
            &crate::encode::Lines,
            &mut sink,
            RunOptions::new(0..space.total()),
            Meters::noop(),
        );
    }

    /// The batch size (names) runs of `space` through `encoder` use.
    pub fn batch_names_for<E: Encoder>(&self, space: &Space, encoder: &E) -> Result<u64, Error> {
        self.plan(max_bytes(space, encoder), overhead(encoder), None)
            .map(|p| p.batch_names)
    }

    /// Checks that a run of `space`'s selection through `encoder` fits the
    /// settings (the memory budget) and the encoding, without running it:
    /// call it before opening outputs, so that a bad budget costs nothing.
    pub fn check<E: Encoder>(&self, space: &Space, encoder: &E) -> Result<(), Error> {
        check_positions(space, &space.selection(), encoder)?;
        self.plan(max_bytes(space, encoder), overhead(encoder), None)
            .map(|_| ())
    }

    fn plan(
        &self,
        max_bytes_per_name: u64,
        overhead: u64,
        fixed: Option<u64>,
    ) -> Result<Plan, Error> {
        let s = &self.settings;
        let in_flight = self.in_flight();
        let in_flight_u64 = u64::try_from(in_flight).unwrap_or(u64::MAX);
        let data = s.memory_budget.saturating_sub(FIXED_OVERHEAD);
        let fixed = fixed.or(s.batch_names);
        let batch_names = match fixed {
            Some(n) => n,
            None => {
                let per_batch = (data / in_flight_u64).min(MAX_BATCH_BYTES);
                per_batch.saturating_sub(overhead) / max_bytes_per_name
            }
        };
        let batch_bytes = batch_names
            .saturating_mul(max_bytes_per_name)
            .saturating_add(overhead);
        let needed = batch_bytes
            .saturating_mul(in_flight_u64)
            .saturating_add(FIXED_OVERHEAD);
        if batch_names == 0 || needed > s.memory_budget {
            let minimum = (max_bytes_per_name + overhead) * in_flight_u64 + FIXED_OVERHEAD;
            return Err(Error::budget(format!(
                "a memory budget of {} bytes cannot hold {in_flight} batches of {} names of up to {max_bytes_per_name} bytes; raise `GeneratorBuilder::memory_budget` to at least {} bytes{}",
                s.memory_budget,
                batch_names.max(1),
                needed.max(minimum),
                if fixed.is_some() || s.in_flight.is_some() {
                    " or lower the batch size / in-flight limit"
                } else {
                    ""
                },
            )));
        }
        Ok(Plan {
            batch_names,
            batch_bytes,
            in_flight,
            max_bytes_per_name,
            overhead,
        })
    }

    /// Encodes the names at `options.positions` of `space` with `encoder`
    /// and pushes them to `sink`. Stops at a batch boundary when
    /// `options.cancel` is cancelled or the sink says [`Flow::Stop`]; the
    /// report tells exactly which positions were written.
    /// `options.progress` is called after every batch written.
    pub fn run<E, S>(
        &self,
        space: &Space,
        encoder: &E,
        sink: &mut S,
        options: RunOptions<'_>,
    ) -> Result<Report, Error>
    where
        E: Encoder,
        S: Sink,
    {
        check_positions(space, &options.positions, encoder)?;
        let plan = self.plan(
            max_bytes(space, encoder),
            overhead(encoder),
            options.batch_names,
        )?;
        let span = tracing::debug_span!(
            "generate",
            start = options.positions.start,
            end = options.positions.end,
            batch_names = plan.batch_names,
            threads = self.threads,
        );
        let _entered = span.enter();
        let report = self.run_plan(plan, space, encoder, sink, options, Meters::new());
        match &report {
            Ok(r) => tracing::debug!(
                names = r.names,
                batches = r.batches,
                seconds = r.duration_secs,
                stopped_early = r.stopped_early,
                "run finished"
            ),
            Err(e) => tracing::debug!(error = %e, "run failed"),
        }
        report
    }

    fn run_plan<E, S>(
        &self,
        plan: Plan,
        space: &Space,
        encoder: &E,
        sink: &mut S,
        options: RunOptions<'_>,
        meters: Meters,
    ) -> Result<Report, Error>
    where
        E: Encoder,
        S: Sink,
    {
        let RunOptions {
            positions,
            cancel,
            progress,
            ..
        } = options;
        let mut ignore = |_: &Progress| {};
        let progress: &mut dyn FnMut(&Progress) = match progress {
            Some(progress) => progress,
            None => &mut ignore,
        };
        // The report is allocated before the heap is measured, so that it
        // does not count as left behind.
        let mut report = Report {
            written: Vec::with_capacity(4),
            requested: positions.clone(),
            batch_names: plan.batch_names,
            batch_bytes: plan.batch_bytes,
            in_flight: plan.in_flight,
            threads: self.threads,
            memory_budget: self.settings.memory_budget,
            ..Report::default()
        };
        let before = domgen_alloc::stats();
        domgen_alloc::reset_peak();
        report.live_bytes_before = before.map(|b| b.live_bytes);
        let high_water = before.map(|b| b.live_bytes.saturating_add(self.settings.memory_budget));
        let started = Instant::now();

        sink.begin(positions.clone())
            .map_err(|e| Error::sink(e, positions.start..positions.start))?;
        let outcome = {
            let mut run = Run {
                plan,
                pooled: self.settings.pooled,
                positions: positions.clone(),
                next_start: positions.start,
                next_seq: 0,
                in_workers: 0,
                alive: 0,
                free: Vec::with_capacity(plan.in_flight),
                pending: BTreeMap::new(),
                write_seq: 0,
                high_water,
                gauge: self.settings.gauge.as_deref(),
                meters,
                report: &mut report,
                started,
                cancel,
                progress,
            };
            let (job_tx, job_rx) = bounded::<Job>(plan.in_flight);
            let (done_tx, done_rx) = bounded::<Done>(plan.in_flight);
            let outcome = self.pool.in_place_scope(|scope| {
                for _ in 0..self.threads {
                    let (jobs, done) = (job_rx.clone(), done_tx.clone());
                    scope.spawn(move |_| work(space, encoder, &jobs, &done));
                }
                drop(done_tx);
                let outcome = run.coordinate(sink, &job_tx, &done_rx);
                // Closing the job channel lets the workers finish.
                drop(job_tx);
                outcome
            });
            // The pool is emptied before the leak check.
            drop(run);
            outcome
        };

        let elapsed = started.elapsed();
        report.duration_secs = elapsed.as_secs_f64();
        report.names_per_sec = if report.duration_secs > 0.0 {
            report.names as f64 / report.duration_secs
        } else {
            0.0
        };
        if let (Some(b), Some(a)) = (before, domgen_alloc::stats()) {
            report.allocated_bytes = Some(a.allocated_bytes - b.allocated_bytes);
            report.allocations = Some(a.allocations - b.allocations);
            report.peak_live_bytes = Some(a.peak_live_bytes - b.live_bytes.min(a.peak_live_bytes));
            report.live_bytes_after = Some(a.live_bytes);
        }
        report.peak_rss_bytes = domgen_alloc::process().map(|p| p.peak_rss_bytes);
        match outcome {
            Ok(()) => {
                let written = coalesce(&report.written);
                sink.finish().map_err(|e| Error::sink(e, written))?;
                // A sink that writes behind (a database's COPY) is done
                // only now: its time is the run's.
                report.duration_secs = started.elapsed().as_secs_f64();
                report.names_per_sec = if report.duration_secs > 0.0 {
                    report.names as f64 / report.duration_secs
                } else {
                    0.0
                };
                Ok(report)
            }
            Err(e) => Err(e.with_written(coalesce(&report.written))),
        }
    }
}

fn overhead<E: Encoder>(encoder: &E) -> u64 {
    u64::try_from(encoder.batch_overhead()).unwrap_or(u64::MAX)
}

/// Refuses positions outside `space` or that `encoder` cannot represent.
fn check_positions<E: Encoder>(
    space: &Space,
    positions: &Range<u64>,
    encoder: &E,
) -> Result<(), Error> {
    if positions.start > positions.end || positions.end > space.total() {
        return Err(Error::positions(format!(
            "positions {}..{} lie outside the space of {} names",
            positions.start,
            positions.end,
            space.total()
        )));
    }
    encoder.check_positions(positions).map_err(Error::positions)
}

fn max_bytes<E: Encoder>(space: &Space, encoder: &E) -> u64 {
    u64::try_from(encoder.max_bytes_per_name(space.max_name_len())).unwrap_or(u64::MAX)
}

/// The first contiguous written range (the whole of it for ordered runs).
fn coalesce(written: &[Range<u64>]) -> Range<u64> {
    written.first().cloned().unwrap_or(0..0)
}

/// A worker: takes jobs until the channel closes.
fn work<E: Encoder>(space: &Space, encoder: &E, jobs: &Receiver<Job>, done: &Sender<Done>) {
    for mut job in jobs {
        job.buf.clear();
        let result = catch_unwind(AssertUnwindSafe(|| {
            encoder.encode(space, job.positions.clone(), &mut job.buf);
        }));
        let panic = result.err().map(|p| {
            p.downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a worker panicked".to_owned())
        });
        let finished = Done {
            seq: job.seq,
            positions: job.positions,
            buf: job.buf,
            panic,
        };
        if done.send(finished).is_err() {
            return;
        }
    }
}

/// The calling thread's side of a run: plans batches, writes results.
struct Run<'a, 'p> {
    plan: Plan,
    pooled: bool,
    positions: Range<u64>,
    next_start: u64,
    next_seq: u64,
    /// Batches handed to workers and not yet back.
    in_workers: usize,
    /// Buffers not in the pool: with workers, or waiting for their turn.
    /// This is what `in_flight` bounds.
    alive: usize,
    free: Vec<Vec<u8>>,
    /// Finished batches waiting for their turn (ordered sinks).
    pending: BTreeMap<u64, Done>,
    write_seq: u64,
    high_water: Option<u64>,
    gauge: Option<&'a Gauge>,
    meters: Meters,
    report: &'a mut Report,
    started: Instant,
    cancel: Option<&'a CancelToken>,
    progress: &'p mut dyn FnMut(&Progress),
}

impl Drop for Run<'_, '_> {
    /// Batches still out when a run unwinds (a sink panicked) are in
    /// flight no more.
    fn drop(&mut self) {
        if self.alive > 0 {
            self.meters.in_flight.decrement(self.alive as f64);
        }
    }
}

impl Run<'_, '_> {
    fn coordinate<S: Sink>(
        &mut self,
        sink: &mut S,
        jobs: &Sender<Job>,
        done: &Receiver<Done>,
    ) -> Result<(), Error> {
        let ordered = sink.ordered();
        let mut failure: Option<Error> = None;
        // Dispatch no more batches (cancelled, stopped or failed).
        let mut stopping = false;
        // Write no more batches (the sink stopped or something failed);
        // a cancelled run still writes the batches already in flight.
        let mut discard = false;
        loop {
            if !stopping && self.cancel.is_some_and(CancelToken::is_cancelled) {
                stopping = true;
                self.report.stopped_early = true;
            }
            let more = !stopping && self.next_start < self.positions.end;
            if more && self.alive < self.limit() && !self.over_budget() {
                self.dispatch(jobs);
                continue;
            }
            if self.in_workers == 0 {
                break;
            }
            let finished = done
                .recv()
                .expect("workers hold the done channel while batches are out");
            self.in_workers -= 1;
            if let Some(message) = &finished.panic {
                failure.get_or_insert_with(|| Error::worker(message.clone()));
                (stopping, discard) = (true, true);
            }
            if discard {
                self.recycle(finished.buf);
                continue;
            }
            let mut ready = if ordered {
                self.pending.insert(finished.seq, finished);
                None
            } else {
                Some(finished)
            };
            loop {
                let batch = match ready.take() {
                    Some(batch) => batch,
                    None if ordered => match self.pending.remove(&self.write_seq) {
                        Some(batch) => batch,
                        None => break,
                    },
                    None => break,
                };
                self.write_seq += 1;
                match self.write(sink, batch) {
                    Ok(Flow::Continue) => continue,
                    Ok(Flow::Stop) => self.report.stopped_early = true,
                    Err(e) => failure = Some(e),
                }
                (stopping, discard) = (true, true);
                break;
            }
        }
        // Batches finished after a stop but not written are dropped here.
        for (_, d) in std::mem::take(&mut self.pending) {
            self.recycle(d.buf);
        }
        failure.map_or(Ok(()), Err)
    }

    /// The in-flight limit now: the plan's, or the gauge's throttle below it.
    fn limit(&self) -> usize {
        self.gauge
            .map_or(self.plan.in_flight, |g| g.limit(self.plan.in_flight))
    }

    fn over_budget(&mut self) -> bool {
        let (Some(high_water), Some(stats)) = (self.high_water, domgen_alloc::stats()) else {
            return false;
        };
        // With nothing in flight, waiting cannot free anything: the heap
        // above the mark is not ours, so go on rather than hang.
        if stats.live_bytes > high_water && self.in_workers > 0 {
            self.report.memory_waits += 1;
            self.meters.memory_waits.increment(1);
            if self.meters.events {
                tracing::debug!(
                    live_bytes = stats.live_bytes,
                    high_water,
                    "over the memory budget: waiting for a batch"
                );
            }
            return true;
        }
        false
    }

    fn dispatch(&mut self, jobs: &Sender<Job>) {
        let start = self.next_start;
        let end = start
            .saturating_add(self.plan.batch_names)
            .min(self.positions.end);
        if let Some(gauge) = self.gauge {
            gauge.dispatched(!self.free.is_empty());
        }
        self.meters.in_flight.increment(1.0);
        let buf = match self.free.pop() {
            Some(buf) => {
                self.report.pool_hits += 1;
                buf
            }
            None => {
                self.report.pool_misses += 1;
                // A short run needs less than a full batch.
                let bytes = (end - start)
                    .saturating_mul(self.plan.max_bytes_per_name)
                    .saturating_add(self.plan.overhead)
                    .min(self.plan.batch_bytes);
                Vec::with_capacity(usize::try_from(bytes).unwrap_or(usize::MAX))
            }
        };
        let job = Job {
            seq: self.next_seq,
            positions: start..end,
            buf,
        };
        jobs.send(job).expect("workers live while the run does");
        self.next_seq += 1;
        self.next_start = end;
        self.in_workers += 1;
        self.alive += 1;
    }

    fn write<S: Sink>(&mut self, sink: &mut S, done: Done) -> Result<Flow, Error> {
        let flow = sink
            .write_batch(done.positions.clone(), &done.buf)
            .map_err(|e| Error::sink(e, 0..0));
        if flow.is_ok() {
            let names = done.positions.end - done.positions.start;
            let r = &mut *self.report;
            r.names += names;
            r.batches += 1;
            r.bytes_out += done.buf.len() as u64;
            match r.written.last_mut() {
                Some(last) if last.end == done.positions.start => last.end = done.positions.end,
                _ => r.written.push(done.positions.clone()),
            }
            let live_bytes = domgen_alloc::stats().map(|s| s.live_bytes);
            self.meters.names.increment(names);
            if let Some(live) = live_bytes {
                self.meters.live_heap.set(live as f64);
            }
            if self.meters.events {
                tracing::debug!(
                    start = done.positions.start,
                    end = done.positions.end,
                    bytes = done.buf.len(),
                    "batch written"
                );
            }
            let p = Progress {
                written: r.names,
                total: r.requested.end - r.requested.start,
                elapsed: self.started.elapsed(),
                live_bytes,
            };
            (self.progress)(&p);
        }
        if let (Some(gauge), true) = (self.gauge, flow.is_ok()) {
            gauge.written();
        }
        self.recycle(done.buf);
        flow
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        self.alive -= 1;
        if let Some(gauge) = self.gauge {
            gauge.retired();
        }
        self.meters.in_flight.decrement(1.0);
        // Buffers only grow, so the capacity held is largest when all
        // buffers are back: the pool's total, or one buffer per slot when
        // each batch has its own.
        let held = if self.pooled {
            buf.clear();
            self.free.push(buf);
            self.free.iter().map(Vec::capacity).sum::<usize>()
        } else {
            buf.capacity().saturating_mul(self.alive + 1)
        };
        let held = u64::try_from(held).unwrap_or(u64::MAX);
        self.report.arena_bytes = self.report.arena_bytes.max(held);
    }
}
