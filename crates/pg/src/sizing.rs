//! How many names a commit carries, chosen from the target table's shape
//! and then steered by what commits measure.
//!
//! A batch's cost is not linear in its size on every table. On a bare
//! table, bigger batches only amortise a commit's fixed cost, so the
//! largest batch the memory budget holds is fastest. On a table with
//! per-row triggers that update one row per campaign (a counters row), each
//! row of a batch walks the chain of versions the batch's earlier rows left
//! on that row: a batch costs the square of its size, and a second
//! connection only waits for the first one's row lock. There the fastest
//! size is a few hundred to a few thousand names, and which one depends on
//! the triggers, the server and the table's size.
//!
//! So a campaign's ledger grid is a *cell* ([`Sizing::cell`]): a
//! `generate` commit groups whole cells (each with its own ledger row, so
//! two writers that group them differently still meet on the ledger's
//! primary key), and a worker's lease is a run of cells cut from the
//! cursor. How many cells go into a commit is the [`Sizer`]'s choice:
//!
//! 1. **Start** from the table's shape ([`table_shape`], read from the
//!    catalog): row triggers start at [`TRIGGER_START`] names in cells of
//!    [`TRIGGER_CELL`]; a table with [`MANY_INDEXES`] indexes or more starts
//!    at the largest batch, cut in [`INDEX_CELLS`] cells so that smaller
//!    batches can be tried; any other table takes the largest batch, fixed,
//!    since nothing there makes smaller batches faster.
//! 2. **Climb**: measure the rows/s of a window of commits at one size (the
//!    run's rate over at least [`WINDOW_COMMITS`] commits and
//!    [`WINDOW_SECS`], the first commit's duration left out so that the
//!    overlap of parallel connections does not bias it); double the size
//!    while that beats the best rate by [`BETTER`]; when it does not, go
//!    back to the best size (a multiplicative decrease) and, if the climb
//!    never left its start, halve from there while halving pays.
//! 3. **Settle** at the best size, re-measuring it, and every
//!    [`PROBE_EVERY`] windows probe a size half again as large or two
//!    thirds as large (alternately), moving there only if it beats the
//!    settled rate by [`BETTER`]. A table that grows, or a server that
//!    gets busy, is followed; noise below [`BETTER`] moves nothing.
//!
//! With more than one connection, the settled controller also measures one
//! window on a single connection: where connections only wait for each
//! other's row locks, one does as well, and the run keeps one.
//!
//! A pinned batch size (`--batch-size`, [`domgen_engine::GeneratorBuilder::batch_names`])
//! is the cell and the batch, and nothing is steered.

use std::time::Instant;

use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::error::Error;
use crate::ledger::quote_table;

/// Why a pinned batch size is what it is (the CLI says `--batch-size`).
pub const PINNED: &str =
    "the batch size was given (`GeneratorBuilder::batch_names`), which pins it";

/// The most cells one commit groups: each is a row of one multi-row ledger
/// `INSERT`, two parameters apiece (a statement binds at most 65,535).
pub const MAX_GROUP_CELLS: u64 = 4096;

/// Names per cell on a table with row triggers.
pub const TRIGGER_CELL: u64 = 100;
/// Names per batch a table with row triggers starts at.
pub const TRIGGER_START: u64 = 1_000;
/// Indexes from which a table's batch size is measured rather than fixed.
pub const MANY_INDEXES: u32 = 8;
/// Cells the largest batch is cut into on a table with many indexes.
pub const INDEX_CELLS: u64 = 16;
/// Commits a window measures, at least (the first opens its clock).
pub const WINDOW_COMMITS: u32 = 5;
/// Seconds a window measures, at least.
pub const WINDOW_SECS: f64 = 1.0;
/// How much faster a size must be to count as faster: what the noise of a
/// shared machine moves a window's rate by.
pub const BETTER: f64 = 1.05;
/// Windows between probes once settled.
pub const PROBE_EVERY: u32 = 8;
/// Size changes a report keeps (the first ones: how the size was found).
const HISTORY: usize = 64;

/// What the catalog says about a table that matters to batch sizes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TableShape {
    /// Enabled, user-defined row-level triggers that fire on `INSERT`
    /// (constraint triggers of foreign keys are not counted).
    pub row_triggers: Vec<String>,
    /// Indexes on the table.
    pub indexes: u32,
}

/// Reads `table`'s [`TableShape`] from the catalog.
pub async fn table_shape(client: &Client, table: &str) -> Result<TableShape, Error> {
    let quoted = quote_table(table)?;
    // tgtype: bit 0 is FOR EACH ROW, bit 2 fires on INSERT.
    let row = client
        .query_typed_one(
            "SELECT ARRAY(SELECT tgname::text FROM pg_trigger
                           WHERE tgrelid = to_regclass($1) AND NOT tgisinternal
                             AND tgtype & 1 = 1 AND tgtype & 4 = 4 AND tgenabled <> 'D'
                           ORDER BY tgname),
                    (SELECT count(*) FROM pg_index WHERE indrelid = to_regclass($1))::int4",
            &[(&quoted, Type::TEXT)],
        )
        .await?;
    Ok(TableShape {
        row_triggers: row.get(0),
        indexes: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
    })
}

/// The grid and the batch sizes a writer may choose from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sizing {
    /// Names per cell: the ledger's grid.
    pub cell: u64,
    /// Cells the first batches carry.
    pub start_cells: u64,
    /// The most cells a batch carries (the memory budget's largest batch).
    pub max_cells: u64,
    /// Whether the size is steered by measurement.
    pub adaptive: bool,
    /// Why these sizes, in a sentence for the run's report.
    pub why: String,
}

impl Sizing {
    /// Batches of `names`, fixed (0 is for the ledger to refuse).
    pub fn pinned(names: u64, why: impl Into<String>) -> Sizing {
        Sizing {
            cell: names,
            start_cells: 1,
            max_cells: 1,
            adaptive: false,
            why: why.into(),
        }
    }

    /// The sizes for a table of `shape` when the largest batch the writer
    /// may hold is `largest` names (see the [module](self) for the rules).
    pub fn for_table(table: &str, shape: &TableShape, largest: u64) -> Sizing {
        let largest = largest.max(1);
        if !shape.row_triggers.is_empty() {
            let cell = TRIGGER_CELL.min(largest);
            let max_cells = (largest / cell).min(MAX_GROUP_CELLS);
            return Sizing {
                cell,
                start_cells: (TRIGGER_START / cell).clamp(1, max_cells),
                max_cells,
                adaptive: true,
                why: format!(
                    "{table} has row triggers on INSERT ({}): a trigger that updates one row per \
                     campaign makes a batch cost the square of its size, so the size is measured, \
                     from {} names up or down in steps of {cell}",
                    shape.row_triggers.join(", "),
                    TRIGGER_START.min(largest),
                ),
            };
        }
        if shape.indexes >= MANY_INDEXES && largest >= INDEX_CELLS {
            let cell = largest / INDEX_CELLS;
            return Sizing {
                cell,
                start_cells: INDEX_CELLS,
                max_cells: INDEX_CELLS,
                adaptive: true,
                why: format!(
                    "{table} has {} indexes and no row triggers: the size is measured, from the \
                     largest batch the memory budget holds ({}) down in steps of {cell}",
                    shape.indexes,
                    cell * INDEX_CELLS,
                ),
            };
        }
        Sizing::pinned(
            largest,
            format!(
                "{table} has {} index{} and no row triggers: the largest batch the memory budget \
                 holds, which is the fastest on such a table",
                shape.indexes,
                if shape.indexes == 1 { "" } else { "es" },
            ),
        )
    }

    /// The sizes of a campaign registered with a grid of `cell` names, for
    /// a writer whose largest batch is `largest` names: its cell is kept,
    /// the start and the bound follow from `shape` as for a new campaign.
    pub fn for_grid(cell: u64, table: &str, shape: &TableShape, largest: u64) -> Sizing {
        let fresh = Sizing::for_table(table, shape, largest);
        let cell = cell.max(1);
        let max_cells = (largest / cell).clamp(1, MAX_GROUP_CELLS);
        let start_names = if fresh.adaptive {
            fresh.start_cells * fresh.cell
        } else {
            largest
        };
        Sizing {
            cell,
            start_cells: (start_names / cell).clamp(1, max_cells),
            max_cells,
            adaptive: true,
            why: fresh.why,
        }
    }

    /// Names in the first batches.
    pub fn start_names(&self) -> u64 {
        self.start_cells * self.cell
    }
}

/// One change of size, or the end of the climb, as a report shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SizeStep {
    /// The batch size measured (names).
    pub names: u64,
    /// Connections that committed in the window.
    pub connections: usize,
    /// Its rows/s over the window.
    pub rows_per_sec: f64,
    /// What the controller did next, and why.
    pub then: String,
}

/// What the sizing of a run did: the rules it started from, the size it
/// settled at, and the steps between.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SizingReport {
    /// Names per cell (the ledger's grid).
    pub cell: u64,
    /// Names per batch at the start.
    pub start_names: u64,
    /// Names per batch at the end: the best size measured.
    pub final_names: u64,
    /// Connections committing at the end.
    pub final_connections: usize,
    /// Whether the size was steered.
    pub adaptive: bool,
    /// Why it started where it did.
    pub why: String,
    /// The size changes, the first 64 of them.
    pub steps: Vec<SizeStep>,
    /// Windows measured.
    pub windows: u64,
}

/// Where the controller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Doubling (`up`) or halving while that pays.
    Climb { up: bool },
    /// At the best size, re-measuring it; `probes` counts probes made.
    Settled { windows: u32, probes: u32 },
    /// Measuring a neighbour of the settled size.
    Probe { up: bool },
    /// Measuring one connection in place of all.
    OneConnection,
}

/// The commits of one window: all at one size and connection count.
#[derive(Clone, Copy, Debug)]
struct Window {
    commits: u32,
    names: u64,
    /// The end of the window's first commit: its clock's start.
    opened: Option<Instant>,
    last: Option<Instant>,
}

impl Window {
    const EMPTY: Window = Window {
        commits: 0,
        names: 0,
        opened: None,
        last: None,
    };
}

/// The controller: says how many cells the next batch carries and how
/// many connections commit, and learns from each commit (see the
/// [module](self)).
#[derive(Clone, Debug)]
pub struct Sizer {
    sizing: Sizing,
    connections: usize,
    cells: u64,
    active: usize,
    phase: Phase,
    window: Window,
    /// The best size and its rate, at all connections.
    best: Option<(u64, f64)>,
    /// Whether the climb went down from its start already.
    went_down: bool,
    /// Whether one connection was measured already.
    tried_one: bool,
    report: SizingReport,
}

impl Sizer {
    /// A controller for `sizing` over `connections` connections.
    pub fn new(sizing: Sizing, connections: usize) -> Sizer {
        let connections = connections.max(1);
        let cells = sizing.start_cells.clamp(1, sizing.max_cells.max(1));
        let report = SizingReport {
            cell: sizing.cell,
            start_names: cells * sizing.cell,
            final_names: cells * sizing.cell,
            final_connections: connections,
            adaptive: sizing.adaptive,
            why: sizing.why.clone(),
            ..SizingReport::default()
        };
        Sizer {
            connections,
            cells,
            active: connections,
            phase: Phase::Climb {
                up: cells < sizing.max_cells,
            },
            window: Window::EMPTY,
            best: None,
            went_down: false,
            tried_one: connections == 1,
            report,
            sizing,
        }
    }

    /// A controller for `sizing` that steers the size only: `connections`
    /// commit whatever it measures (a worker's claim loops).
    pub fn with_connections(sizing: Sizing, connections: usize) -> Sizer {
        Sizer {
            tried_one: true,
            ..Sizer::new(sizing, connections)
        }
    }

    /// The grid and bounds it steers within.
    pub fn sizing(&self) -> &Sizing {
        &self.sizing
    }

    /// Cells the next batch carries.
    pub fn cells(&self) -> u64 {
        self.cells
    }

    /// Names the next batch carries.
    pub fn names(&self) -> u64 {
        self.cells * self.sizing.cell
    }

    /// Connections that should commit now (the others wait idle).
    pub fn active_connections(&self) -> usize {
        self.active
    }

    /// What the sizing did so far.
    pub fn report(&self) -> SizingReport {
        let mut report = self.report.clone();
        // A probe not yet judged is not where the run settled.
        let best = self.best.map_or(self.cells, |b| b.0);
        let (cells, active) = match self.phase {
            Phase::Probe { .. } => (best, self.active),
            Phase::OneConnection => (best, self.connections),
            Phase::Climb { .. } | Phase::Settled { .. } => (self.cells, self.active),
        };
        report.final_names = cells * self.sizing.cell;
        report.final_connections = active;
        report
    }

    /// A batch of `cells` cells and `names` names committed at `done`.
    /// Commits of another size than the current one (cut before it
    /// changed, or the short last one) are not measured.
    pub fn committed(&mut self, cells: u64, names: u64, done: Instant) {
        if !self.sizing.adaptive || cells != self.cells {
            return;
        }
        let w = &mut self.window;
        w.commits += 1;
        match w.opened {
            None => w.opened = Some(done),
            Some(_) => w.names += names,
        }
        w.last = Some(w.last.map_or(done, |last| last.max(done)));
        let (Some(opened), Some(last)) = (w.opened, w.last) else {
            return;
        };
        let span = last.saturating_duration_since(opened).as_secs_f64();
        if w.commits < WINDOW_COMMITS || span < WINDOW_SECS {
            return;
        }
        let rate = w.names as f64 / span;
        self.window = Window::EMPTY;
        self.report.windows += 1;
        self.judge(rate);
    }

    /// Decides the next size from a window's `rate` at the current one.
    fn judge(&mut self, rate: f64) {
        let (cells, active) = (self.cells, self.active);
        let beats = |best: Option<(u64, f64)>| best.is_none_or(|(_, r)| rate > r * BETTER);
        let max = self.sizing.max_cells.max(1);
        match self.phase {
            Phase::Climb { up } => {
                if beats(self.best) {
                    self.best = Some((cells, rate));
                    let next = if up {
                        (cells * 2).min(max)
                    } else {
                        (cells / 2).max(1)
                    };
                    if next != cells {
                        self.cells = next;
                        let how = if up { "doubled" } else { "halved" };
                        self.step(
                            cells,
                            active,
                            rate,
                            format!("{how}: faster than any size before"),
                        );
                        return;
                    }
                    self.settle(cells, active, rate, "settled: the bound of the sizes");
                    return;
                }
                let (best, best_rate) = self.best.expect("a size was measured before");
                if up
                    && !self.went_down
                    && best == self.sizing.start_cells.clamp(1, max)
                    && best > 1
                {
                    // Doubling from the start did not pay: maybe halving does.
                    self.went_down = true;
                    self.phase = Phase::Climb { up: false };
                    self.cells = (best / 2).max(1);
                    self.step(cells, active, rate, format!(
                        "halved from the start: {rate:.0} rows/s is not faster than {best_rate:.0} at {}",
                        best * self.sizing.cell
                    ));
                    return;
                }
                self.cells = best;
                self.settle(cells, active, rate, &format!(
                    "back to {} names: {rate:.0} rows/s is not faster than {best_rate:.0} there",
                    best * self.sizing.cell
                ));
            }
            Phase::Settled { windows, probes } => {
                // Re-measured: the settled rate follows the table.
                if let Some(best) = &mut self.best {
                    best.1 = (best.1 + rate) / 2.0;
                }
                if !self.tried_one && windows + 1 >= 2 {
                    self.tried_one = true;
                    self.active = 1;
                    self.phase = Phase::OneConnection;
                    self.step(cells, active, rate, "trying one connection".into());
                    return;
                }
                if windows + 1 < PROBE_EVERY {
                    self.phase = Phase::Settled {
                        windows: windows + 1,
                        probes,
                    };
                    return;
                }
                let up = probes % 2 == 0;
                let next = if up {
                    (cells + cells.div_ceil(2)).min(max)
                } else {
                    (cells * 2 / 3).max(1)
                };
                self.phase = Phase::Settled {
                    windows: 0,
                    probes: probes + 1,
                };
                if next != cells {
                    self.cells = next;
                    self.phase = Phase::Probe { up };
                    self.step(
                        cells,
                        active,
                        rate,
                        format!("probing {} names", next * self.sizing.cell),
                    );
                }
            }
            Phase::Probe { up } => {
                let (best, best_rate) = self.best.expect("a size was settled before");
                if rate > best_rate * BETTER {
                    self.best = Some((cells, rate));
                    self.phase = Phase::Climb { up };
                    self.went_down = true;
                    let next = if up {
                        (cells * 2).min(max)
                    } else {
                        (cells / 2).max(1)
                    };
                    if next == cells {
                        self.settle(
                            cells,
                            active,
                            rate,
                            "settled: faster, and the bound of the sizes",
                        );
                    } else {
                        self.cells = next;
                        self.step(
                            cells,
                            active,
                            rate,
                            format!(
                                "faster than {best_rate:.0} rows/s at {} names: climbing on",
                                best * self.sizing.cell
                            ),
                        );
                    }
                    return;
                }
                self.cells = best;
                self.settle(
                    cells,
                    active,
                    rate,
                    &format!(
                        "back to {} names: not faster than {best_rate:.0} rows/s there",
                        best * self.sizing.cell
                    ),
                );
            }
            Phase::OneConnection => {
                let (_, best_rate) = self.best.expect("a size was settled before");
                // One connection that does as well frees the others: they
                // were waiting for each other's locks.
                let keep_one = rate * BETTER >= best_rate;
                let then = if keep_one {
                    self.best = Some((cells, rate));
                    format!(
                        "one connection kept: {rate:.0} rows/s against {best_rate:.0} with {}: the others only waited",
                        self.connections
                    )
                } else {
                    self.active = self.connections;
                    format!(
                        "back to {} connections: one made {rate:.0} rows/s against {best_rate:.0}",
                        self.connections
                    )
                };
                self.phase = Phase::Settled {
                    windows: 0,
                    probes: 0,
                };
                self.step(cells, 1, rate, then);
            }
        }
    }

    fn settle(&mut self, cells: u64, active: usize, rate: f64, why: &str) {
        self.phase = Phase::Settled {
            windows: 0,
            probes: 0,
        };
        self.step(cells, active, rate, why.to_owned());
    }

    fn step(&mut self, cells: u64, connections: usize, rate: f64, then: String) {
        if self.report.steps.len() < HISTORY {
            self.report.steps.push(SizeStep {
                names: cells * self.sizing.cell,
                connections,
                rows_per_sec: rate,
                then,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn shape(triggers: &[&str], indexes: u32) -> TableShape {
        TableShape {
            row_triggers: triggers.iter().map(|t| (*t).to_owned()).collect(),
            indexes,
        }
    }

    #[test]
    fn the_shape_chooses_the_start() {
        let bare = Sizing::for_table("t", &shape(&[], 0), 17_000);
        assert_eq!(
            (bare.cell, bare.start_cells, bare.max_cells, bare.adaptive),
            (17_000, 1, 1, false)
        );
        assert!(
            bare.why.contains("0 indexes and no row triggers"),
            "{}",
            bare.why
        );

        let triggers = Sizing::for_table("t", &shape(&["audit", "counters"], 25), 17_000);
        assert_eq!(
            (triggers.cell, triggers.start_names(), triggers.max_cells),
            (100, 1_000, 170)
        );
        assert!(triggers.adaptive);
        assert!(
            triggers.why.contains("(audit, counters)"),
            "{}",
            triggers.why
        );

        let indexed = Sizing::for_table("t", &shape(&[], 12), 16_000);
        assert_eq!(
            (indexed.cell, indexed.start_cells, indexed.max_cells),
            (1_000, 16, 16)
        );
        assert!(indexed.adaptive);

        // A budget smaller than the trigger start.
        let tiny = Sizing::for_table("t", &shape(&["x"], 0), 50);
        assert_eq!((tiny.cell, tiny.start_cells, tiny.max_cells), (50, 1, 1));
    }

    #[test]
    fn a_stored_grid_is_kept() {
        let s = Sizing::for_grid(250, "t", &shape(&["x"], 0), 17_000);
        assert_eq!((s.cell, s.start_cells, s.max_cells), (250, 4, 68));
        let s = Sizing::for_grid(20_000, "t", &shape(&["x"], 0), 17_000);
        assert_eq!((s.cell, s.start_cells, s.max_cells), (20_000, 1, 1));
    }

    /// Drives a sizer against a table whose commit of `n` names over
    /// `connections` takes `cost(n, connections)` seconds, for `commits`
    /// commits, and returns the names it ends at and the rate there.
    fn drive(sizer: &mut Sizer, commits: usize, cost: impl Fn(u64, usize) -> f64) -> (u64, f64) {
        let t0 = Instant::now();
        let mut now = 0.0;
        for _ in 0..commits {
            let (cells, names, active) = (sizer.cells(), sizer.names(), sizer.active_connections());
            // Connections commit in turn: the run's clock moves by a
            // commit's time over the connections that overlap.
            let took = cost(names, active);
            now += took / active as f64;
            sizer.committed(cells, names, t0 + Duration::from_secs_f64(now));
        }
        let names = sizer.report().final_names;
        let rate = names as f64 / cost(names, sizer.report().final_connections)
            * sizer.report().final_connections as f64;
        (names, rate)
    }

    /// The counters-row table: each row walks the versions the batch's
    /// earlier rows left, so a batch of n costs a + b·n + c·n²; a second
    /// connection waits for the first's lock, so it adds nothing.
    fn quadratic(n: u64, connections: usize) -> f64 {
        let n = n as f64;
        (0.05 + 2e-4 * n + 1.2e-7 * n * n) * connections as f64
    }

    #[test]
    fn it_finds_the_fastest_size_of_a_quadratic_table() {
        let sizing = Sizing::for_table("t", &shape(&["counters"], 25), 17_400);
        let mut sizer = Sizer::new(sizing, 2);
        let (names, rate) = drive(&mut sizer, 400, quadratic);
        // The optimum of n / (a + b·n + c·n²) is at sqrt(a / c) ≈ 645.
        let best = (100..=17_400)
            .step_by(100)
            .map(|n| n as f64 / quadratic(n, 1))
            .fold(0.0, f64::max);
        assert!(
            rate >= 0.9 * best,
            "{rate} at {names} against {best}: {:#?}",
            sizer.report()
        );
        assert!(
            (300..=1_400).contains(&names),
            "{names}: {:#?}",
            sizer.report()
        );
        // The connections only waited for each other: one is kept.
        assert_eq!(sizer.active_connections(), 1, "{:#?}", sizer.report());
        // The largest batch, a bare table's size, is 6.4× slower here (as
        // measured on the service's table: 621 against 3,593 rows/s).
        assert!(rate >= 5.0 * 17_400.0 / quadratic(17_400, 1));
    }

    /// A bare-ish table: the cost of a commit amortises, bigger is faster.
    fn linear(n: u64, connections: usize) -> f64 {
        let _ = connections;
        0.02 + 1e-6 * n as f64
    }

    #[test]
    fn it_stays_at_the_largest_batch_where_bigger_is_faster() {
        let sizing = Sizing::for_table("t", &shape(&[], 12), 17_600);
        let mut sizer = Sizer::new(sizing, 2);
        let (names, _) = drive(&mut sizer, 400, linear);
        assert_eq!(names, 17_600, "{:#?}", sizer.report());
        assert_eq!(sizer.active_connections(), 2, "{:#?}", sizer.report());
    }

    #[test]
    fn it_climbs_where_the_start_is_too_small() {
        let sizing = Sizing::for_table("t", &shape(&["audit"], 3), 64_000);
        let mut sizer = Sizer::new(sizing, 1);
        let (names, _) = drive(&mut sizer, 400, linear);
        assert!(names >= 32_000, "{names}: {:#?}", sizer.report());
        assert!(
            sizer.report().steps[0].then.starts_with("doubled"),
            "{:#?}",
            sizer.report()
        );
    }

    #[test]
    fn sizes_stay_whole_cells_within_the_bounds() {
        let sizing = Sizing::for_table("t", &shape(&["counters"], 25), 5_000);
        let mut sizer = Sizer::new(sizing.clone(), 3);
        let t0 = Instant::now();
        let mut now = 0.0;
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2_000 {
            // Rates from noise alone: whatever it does, it stays on the grid.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let (cells, names) = (sizer.cells(), sizer.names());
            assert!((1..=sizing.max_cells).contains(&cells), "{cells}");
            assert_eq!(names, cells * sizing.cell);
            assert!((1..=3).contains(&sizer.active_connections()));
            let took = 0.05 + (state % 1000) as f64 / 1e4;
            now += took;
            sizer.committed(cells, names, t0 + Duration::from_secs_f64(now));
        }
        assert!(sizer.report().steps.len() <= HISTORY);
    }

    #[test]
    fn a_pinned_size_never_moves() {
        let mut sizer = Sizer::new(Sizing::pinned(1_000, "--batch-size"), 2);
        let (names, _) = drive(&mut sizer, 100, quadratic);
        assert_eq!(names, 1_000);
        assert!(sizer.report().steps.is_empty());
        assert_eq!(sizer.report().windows, 0);
    }
}
