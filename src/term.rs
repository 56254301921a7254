//! What the terminal sees of a run: progress bars, and Ctrl-C.

use std::io::{self, IsTerminal};

use domgen::engine::CancelToken;

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
    (!no_progress && io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(len);
        let template = format!(
            "{{bar:30}} {{human_pos}}/{{human_len}} {unit}  {{per_sec}}  ETA {{eta}}  {{msg}}"
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template(&template).expect("the template is valid"),
        );
        bar
    })
}
