//! Polling for a condition with a deadline.

use std::thread;
use std::time::{Duration, Instant};

/// How often [`wait_until`] checks its condition.
const POLL: Duration = Duration::from_millis(10);

/// Checks `condition` every 10 ms until it holds or `limit` has passed;
/// returns whether it held. The condition is checked once more at the
/// deadline, so a slow check cannot lose the last chance.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return condition();
        }
        thread::sleep(POLL);
    }
}

/// [`wait_until`], panicking when `limit` passes first.
///
/// # Panics
///
/// When `condition` does not hold within `limit`; the message names `what`
/// was awaited.
#[track_caller]
pub fn wait_for(what: &str, limit: Duration, condition: impl FnMut() -> bool) {
    assert!(
        wait_until(limit, condition),
        "gave up after {limit:?} waiting for {what}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_that_holds_returns_at_once() {
        let start = Instant::now();
        assert!(wait_until(Duration::from_secs(60), || true));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_condition_that_never_holds_gives_up_at_the_deadline() {
        let start = Instant::now();
        let mut checks = 0;
        assert!(!wait_until(Duration::from_millis(100), || {
            checks += 1;
            false
        }));
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(checks > 2, "{checks}");
    }

    #[test]
    #[should_panic(expected = "waiting for the moon")]
    fn wait_for_names_what_it_waited_for() {
        wait_for("the moon", Duration::from_millis(20), || false);
    }
}
