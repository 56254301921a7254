//! What the terminal sees of a run: progress bars, and Ctrl-C.

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use domgen::engine::CancelToken;

/// `-q`: no progress bars and no notes, only results and errors.
static QUIET: AtomicBool = AtomicBool::new(false);

/// The progress bar shown now, if any, for lines written above it.
static SHOWN: Mutex<Option<indicatif::WeakProgressBar>> = Mutex::new(None);

/// Makes the command quiet (`-q`).
pub(crate) fn be_quiet() {
    QUIET.store(true, Ordering::Relaxed);
}

/// Whether notes are to be left out (`-q`).
pub(crate) fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Writes a note on standard error, unless `-q`: what the command did
/// besides its results, e.g. the positions it reserved.
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::term::quiet() {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use note;

/// Runs `write` with the progress bar shown now (if any) put aside.
pub(crate) fn above_the_bar(write: impl FnOnce()) {
    let shown = SHOWN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(indicatif::WeakProgressBar::upgrade);
    match shown {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// A token that Ctrl-C cancels: the run stops at a batch boundary; a second
/// Ctrl-C exits at once.
pub(crate) fn interrupt_token() -> CancelToken {
    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if on_interrupt.is_cancelled() {
            std::process::exit(130);
        }
        on_interrupt.cancel();
    });
    cancel
}

/// A progress bar of `len` names on standard error, when it is a terminal
/// and `--no-progress` was not given.
pub(crate) fn progress_bar(no_progress: bool, len: u64) -> Option<indicatif::ProgressBar> {
    counting_bar(no_progress, len, "names")
}

/// A progress bar of `len` things called `unit`, with their rate, the time
/// left and a message; on standard error when it is a terminal and
/// `--no-progress` was not given.
pub(crate) fn counting_bar(
    no_progress: bool,
    len: u64,
    unit: &str,
) -> Option<indicatif::ProgressBar> {
    (!no_progress && !quiet() && io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(len);
        let template = format!(
            "{{bar:30}} {{human_pos}}/{{human_len}} {unit}  {{per_sec}}  ETA {{eta}}  {{msg}}"
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template(&template).expect("the template is valid"),
        );
        *SHOWN.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar.downgrade());
        bar
    })
}
