/*!
A counting global allocator over mimalloc, and process memory figures.

[`CountingAlloc`] forwards every request to mimalloc and keeps four
counters with relaxed atomics: live bytes, peak live bytes (resettable per
operation with [`reset_peak`]), bytes allocated and allocations. They cost a
few uncontended atomic operations per allocation, and domgen allocates
nothing per name, so they stay on in production.

A program opts in by installing the allocator:

```
#[global_allocator]
static ALLOC: domgen_alloc::CountingAlloc = domgen_alloc::CountingAlloc;

let before = domgen_alloc::stats().expect("installed above");
let v = vec![0u8; 1 << 20];
let after = domgen_alloc::stats().unwrap();
assert!(after.live_bytes >= before.live_bytes + (1 << 20));
drop(v);
# Ok::<(), Box<dyn std::error::Error>>(())
```

A host service that uses domgen as a library installs it the same way in
its binary crate. Where it is not installed, [`stats`] returns `None` —
figures are "unavailable", never zero. [`process`] reads the whole
process's resident set and thread count from `/proc` (Linux), and
[`process_of`] another process's.

mimalloc commits its arenas eagerly on Linux by default, which makes even a
small process some 12 MiB resident. domgen's workspace builds it with lazy
commit (`.cargo/config.toml`); a host building elsewhere gets the same by
setting `MIMALLOC_ARENA_EAGER_COMMIT=0` in its environment.

# Crate features

This crate has no optional features.
*/

#![deny(missing_docs)]
// This is the one crate allowed `unsafe`: implementing `GlobalAlloc` needs it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use mimalloc::MiMalloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The counting allocator. Install it with `#[global_allocator]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAlloc;

impl CountingAlloc {
    #[inline]
    fn grew(size: usize) {
        let live = LIVE.fetch_add(size, Relaxed) + size;
        PEAK.fetch_max(live, Relaxed);
        ALLOCATED.fetch_add(size as u64, Relaxed);
        ALLOCATIONS.fetch_add(1, Relaxed);
        if !INSTALLED.load(Relaxed) {
            INSTALLED.store(true, Relaxed);
        }
    }
}

// SAFETY: every method forwards to mimalloc, a correct `GlobalAlloc`, with
// the caller's arguments unchanged; the counters only observe the sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which
        // we pass on unchanged.
        let ptr = unsafe { MiMalloc.alloc(layout) };
        if !ptr.is_null() {
            Self::grew(layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { MiMalloc.alloc_zeroed(layout) };
        if !ptr.is_null() {
            Self::grew(layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator (so by mimalloc)
        // with `layout`, as the caller guarantees.
        unsafe { MiMalloc.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`, and
        // `new_size` is valid for it, as the caller guarantees.
        let new = unsafe { MiMalloc.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            let old = layout.size();
            if new_size >= old {
                Self::grew(new_size - old);
            } else {
                LIVE.fetch_sub(old - new_size, Relaxed);
                ALLOCATIONS.fetch_add(1, Relaxed);
            }
        }
        new
    }
}

/// The allocator's counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes allocated and not yet freed.
    pub live_bytes: u64,
    /// The most `live_bytes` has been since the last [`reset_peak`].
    pub peak_live_bytes: u64,
    /// Bytes allocated since the process started (growth by `realloc`
    /// counts its increase).
    pub allocated_bytes: u64,
    /// Allocation calls since the process started (`realloc` counts one).
    pub allocations: u64,
}

/// The counters, or `None` when [`CountingAlloc`] is not the global
/// allocator (nothing was ever counted).
pub fn stats() -> Option<Stats> {
    INSTALLED.load(Relaxed).then(|| Stats {
        live_bytes: LIVE.load(Relaxed) as u64,
        peak_live_bytes: PEAK.load(Relaxed) as u64,
        allocated_bytes: ALLOCATED.load(Relaxed),
        allocations: ALLOCATIONS.load(Relaxed),
    })
}

/// Whether [`CountingAlloc`] is the global allocator.
pub fn is_installed() -> bool {
    INSTALLED.load(Relaxed)
}

/// Starts a new peak: the peak becomes the current live bytes. Call it at
/// the start of an operation whose peak you want.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
}

/// Whole-process memory figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Process {
    /// Resident set size now, in bytes.
    pub rss_bytes: u64,
    /// The most the resident set has been (VmHWM), in bytes.
    pub peak_rss_bytes: u64,
    /// Threads in the process.
    pub threads: u64,
}

/// Reads this process's figures from `/proc/self/status`; `None` where
/// that file does not exist (not Linux).
pub fn process() -> Option<Process> {
    read_status("/proc/self/status")
}

/// Reads the figures of the process `pid` from `/proc/PID/status`; `None`
/// where the process does not exist (any more), has no memory of its own
/// (a kernel thread or a zombie) or the file is not there (not Linux).
pub fn process_of(pid: u32) -> Option<Process> {
    read_status(&format!("/proc/{pid}/status"))
}

fn read_status(path: &str) -> Option<Process> {
    parse_status(&std::fs::read_to_string(path).ok()?)
}

/// The figures in the text of a `/proc/PID/status` file.
fn parse_status(status: &str) -> Option<Process> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(Process {
        rss_bytes: field("VmRSS:")?.checked_mul(1024)?,
        peak_rss_bytes: field("VmHWM:")?.checked_mul(1024)?,
        threads: field("Threads:")?,
    })
}

/// Resets the process's peak RSS (VmHWM) to its current RSS, so that the
/// next [`process`] reports the peak of what follows. Linux only; returns
/// false where it cannot.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_file_gives_bytes_and_threads() {
        let status = "Name:\tdomgen\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t5\n";
        assert_eq!(
            parse_status(status),
            Some(Process {
                rss_bytes: 1 << 20,
                peak_rss_bytes: 2 << 20,
                threads: 5,
            })
        );
    }

    #[test]
    fn a_process_without_memory_has_no_figures() {
        // A kernel thread's status has no Vm lines.
        assert_eq!(parse_status("Name:\tkthreadd\nThreads:\t1\n"), None);
    }

    #[test]
    fn this_process_read_by_its_pid_is_this_process() {
        let (Some(own), Some(by_pid)) = (process(), process_of(std::process::id())) else {
            return; // not Linux
        };
        assert!(by_pid.threads >= 1 && own.threads >= 1);
        assert!(by_pid.rss_bytes > 0);
        assert_eq!(process_of(u32::MAX), None);
    }
}
