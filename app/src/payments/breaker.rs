//! A circuit breaker: after `threshold` failures in a row, calls fail at once for `open_for`
//! (the processor is not hammered while it is down, and customers get a clear answer instead of a
//! long wait); then one trial call goes through, and its success closes the breaker again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial call is in flight.
    HalfOpen,
}

/// The breaker around one dependency.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        CircuitBreaker {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Whether a call may go out now. While open, no; once the open time is over, exactly one
    /// caller gets a trial.
    pub fn allow(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return true;
        };
        match *state {
            State::Closed { .. } => true,
            State::Open { until } if Instant::now() >= until => {
                *state = State::HalfOpen;
                true
            }
            State::Open { .. } | State::HalfOpen => false,
        }
    }

    /// A call succeeded: the breaker closes.
    pub fn succeeded(&self) {
        if let Ok(mut state) = self.state.lock() {
            *state = State::Closed { failures: 0 };
        }
    }

    /// A call failed (down, erroring or too slow): counts toward opening, or reopens after a
    /// failed trial.
    pub fn failed(&self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let open = State::Open {
            until: Instant::now() + self.open_for,
        };
        *state = match *state {
            State::Closed { failures } if failures + 1 >= self.threshold => {
                tracing::warn!(failures = failures + 1, "circuit breaker opens");
                open
            }
            State::Closed { failures } => State::Closed {
                failures: failures + 1,
            },
            State::HalfOpen | State::Open { .. } => open,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_opens_after_the_threshold_and_a_successful_trial_closes_it() {
        let breaker = CircuitBreaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            assert!(breaker.allow());
            breaker.failed();
        }
        assert!(breaker.allow(), "two failures are not enough");
        breaker.failed();
        assert!(!breaker.allow(), "fails fast while open");
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "one trial after the open time");
        assert!(!breaker.allow(), "only one");
        breaker.succeeded();
        assert!(breaker.allow(), "closed again");
        assert!(breaker.allow());
    }

    #[test]
    fn a_failed_trial_opens_it_again_and_a_success_resets_the_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_millis(20));
        breaker.failed();
        breaker.succeeded();
        breaker.failed();
        assert!(breaker.allow(), "the count restarted");
        breaker.failed();
        assert!(!breaker.allow(), "open");
        std::thread::sleep(Duration::from_millis(30));
        assert!(breaker.allow());
        breaker.failed();
        assert!(!breaker.allow(), "open again");
    }
}
