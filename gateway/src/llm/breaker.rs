//! A circuit breaker per model endpoint: after repeated failures the endpoint is skipped for a
//! cool-down, then one trial request is let through (half-open); its outcome closes or re-opens it.

use std::sync::Mutex;
use std::time::Duration;

use std::time::Instant;

use prometheus_client::metrics::gauge::Gauge;

use crate::config::BreakerConfig;

#[derive(Debug)]
pub struct Breaker {
    failures_to_open: u32,
    cooldown: Duration,
    state: Mutex<State>,
    /// 1 while the circuit is open (or half-open, on trial), 0 when closed: what
    /// `ragway_llm_circuit_open` shows for this endpoint.
    open_gauge: Gauge,
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

impl Breaker {
    pub fn new(config: BreakerConfig, open_gauge: Gauge) -> Self {
        open_gauge.set(0);
        Self {
            failures_to_open: config.failures.max(1),
            cooldown: Duration::from_secs(config.cooldown_secs),
            state: Mutex::new(State::default()),
            open_gauge,
        }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A poisoned lock only means another request panicked mid-update; the counters stay usable.
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Whether a request may go to this endpoint now.
    pub fn allow(&self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> bool {
        self.with_state(|s| match s.open_until {
            None => true,
            Some(until) if now < until => false,
            Some(_) if s.trial_in_flight => false,
            Some(_) => {
                s.trial_in_flight = true;
                true
            }
        })
    }

    pub fn success(&self) {
        self.with_state(|s| *s = State::default());
        self.open_gauge.set(0);
    }

    /// Records a failure; returns true when it (re-)opened the circuit.
    pub fn failure(&self) -> bool {
        self.failure_at(Instant::now())
    }

    fn failure_at(&self, now: Instant) -> bool {
        let cooldown = self.cooldown;
        let failures_to_open = self.failures_to_open;
        self.with_state(|s| {
            s.trial_in_flight = false;
            s.consecutive_failures += 1;
            let reopen = s.open_until.is_some() || s.consecutive_failures >= failures_to_open;
            if reopen {
                s.open_until = Some(now + cooldown);
                self.open_gauge.set(1);
            }
            reopen
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_half_opens_after_cooldown_and_recovers() {
        let gauge = Gauge::default();
        let breaker = Breaker::new(
            BreakerConfig {
                failures: 2,
                cooldown_secs: 30,
            },
            gauge.clone(),
        );
        let t0 = Instant::now();
        let later = |secs| t0 + Duration::from_secs(secs);
        assert!(breaker.allow_at(t0));
        assert!(!breaker.failure_at(t0));
        assert!(breaker.allow_at(t0));
        assert!(
            breaker.failure_at(t0),
            "the second consecutive failure opens it"
        );
        assert!(!breaker.allow_at(later(29)), "open during the cool-down");
        assert_eq!(gauge.get(), 1, "the metric shows the open circuit");

        assert!(breaker.allow_at(later(31)), "half-open: one trial");
        assert!(!breaker.allow_at(later(31)), "only one trial at a time");
        assert!(
            breaker.failure_at(later(31)),
            "a failed trial re-opens at once"
        );
        assert!(!breaker.allow_at(later(60)));

        assert!(breaker.allow_at(later(62)));
        breaker.success();
        assert_eq!(gauge.get(), 0, "the metric shows it closed");
        assert!(
            breaker.allow_at(later(62)) && breaker.allow_at(later(62)),
            "closed again"
        );
        assert!(!breaker.failure_at(later(62)), "the count starts over");
    }
}
