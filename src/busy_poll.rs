//! Busy poll: looking for the peer's next bytes for a short window before sleeping. The one
//! rule for when to do it, shared by server connections (`ServerConfig::busy_poll`, the
//! engine's `connection/read.rs`) and clients (`client::Options::busy_poll`): its default,
//! its limit, and the back-off that keeps it to peers that answer within the window
//! (docs/engine.md, "Busy poll").

use std::time::Duration;

use crate::error::{Error, Result};

/// The default window: 50 µs, a few loopback round trips; a peer that answers later than
/// that is soon not spun for.
pub const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(50);

/// The longest window: 100 ms, thousands of loopback round trips; longer would only keep a
/// core busy for peers that have gone quiet.
pub const MAX_BUSY_POLL: Duration = Duration::from_millis(100);

/// Spins skipped, at most, after a run of spins that found nothing: a peer slower than the
/// window costs one window per this many waits.
pub const MAX_SKIP: u32 = 64;

/// Refuses a window longer than `MAX_BUSY_POLL` (zero, off, is fine).
pub fn check_window(window: Duration) -> Result<()> {
    if window > MAX_BUSY_POLL {
        return Err(Error::InvalidArgument(format!("busy_poll must be at most {} µs", MAX_BUSY_POLL.as_micros())));
    }
    Ok(())
}

/// One connection's record of its peer's pace. A spin that finds nothing skips the next
/// spins, twice as many after each miss in a row (1, 2, 4 .. `MAX_SKIP`), then tries again;
/// bytes that come within the window, spun for or not, end the skipping. One late answer
/// does not stop the spinning, and a wait without spinning (which adds this side's own
/// wake-up to the measured pause) is not the only way back.
#[derive(Debug, Default, Clone)]
pub struct Pace {
    skip: u32,
    misses: u32,
}

impl Pace {
    /// Whether the wait starting now may spin; while skipping, counts one skip and says no.
    pub fn may_spin(&mut self) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        true
    }

    /// Records a wait that ended after `waited` and whether it spun.
    pub fn record(&mut self, waited: Duration, window: Duration, spun: bool) {
        if waited <= window {
            (self.skip, self.misses) = (0, 0);
        } else if spun {
            self.skip = (1u32 << self.misses.min(31)).min(MAX_SKIP);
            self.misses += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One wait of `gap`, spun for if the pace allows it: whether it spun.
    fn wait(pace: &mut Pace, gap: Duration) -> bool {
        let spun = pace.may_spin();
        pace.record(gap, Duration::from_millis(10), spun);
        spun
    }

    #[test]
    fn spins_that_find_nothing_back_off_and_a_quick_answer_ends_it() {
        let (late, quick) = (Duration::from_millis(11), Duration::from_millis(10));
        let mut pace = Pace::default();
        // A late peer: spun for at waits 1, 3, 6, 11, 20, .. then once per MAX_SKIP + 1.
        let spun: Vec<usize> = (1..=300).filter(|_| wait(&mut pace, late)).collect();
        assert_eq!(&spun[..6], [1, 3, 6, 11, 20, 37]);
        assert!(spun.windows(2).all(|w| w[1] - w[0] <= MAX_SKIP as usize + 1), "{spun:?}");
        // An answer within the window, even one not spun for, ends the skipping.
        wait(&mut pace, quick);
        assert_eq!((pace.skip, pace.misses), (0, 0));
        assert!(wait(&mut pace, quick), "spun for again at once");
        // One late answer among quick ones costs one skipped spin, not the spinning.
        assert!(wait(&mut pace, late));
        assert!(!wait(&mut pace, quick));
        assert!(wait(&mut pace, quick));
    }

    #[test]
    fn the_window_is_checked_against_its_limit() {
        assert!(check_window(Duration::ZERO).is_ok() && check_window(MAX_BUSY_POLL).is_ok());
        let err = check_window(MAX_BUSY_POLL + Duration::from_micros(1)).unwrap_err();
        assert_eq!(err.to_string(), "busy_poll must be at most 100000 µs");
    }
}
