//! The server's own capacity: how many answers this process works on at once, whatever the
//! tenant. Past it a question is refused at once (503 with `Retry-After`) instead of queueing:
//! on a saturated CPU a queue makes every answer slow and holds each waiting request's memory
//! (bench/scale at 1,000 misses/s, past the 646/s its machine sustained: p50 8.5 s, RSS 1.9 GB).
//! A refusal costs little, so the answers already admitted keep their pace, and a load balancer
//! or client retries elsewhere or later.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What a refused question is told to wait: the answers in progress finish in about this long.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The process-wide bound on answers in progress (`server.max_answers_in_flight`).
#[derive(Debug)]
pub struct Capacity {
    /// None: unlimited (answers are still counted).
    slots: Option<Arc<Semaphore>>,
    max: usize,
    in_flight: Gauge,
    refused: Counter,
}

/// Why a question was not started: the server is answering as many as it may.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the server is at capacity (answers in progress: {max}, its maximum); retry in {} s",
    RETRY_AFTER.as_secs()
)]
pub struct Overloaded {
    pub max: usize,
}

/// One answer in progress; dropping it frees its place.
#[derive(Debug)]
pub struct CapacityPermit {
    _slot: Option<OwnedSemaphorePermit>,
    in_flight: Gauge,
}

impl Drop for CapacityPermit {
    fn drop(&mut self) {
        self.in_flight.dec();
    }
}

impl Capacity {
    /// At most `max` answers at once (0: unlimited), counted in `in_flight`; refusals in `refused`.
    pub fn new(max: usize, in_flight: Gauge, refused: Counter) -> Self {
        Self {
            slots: (max > 0).then(|| Arc::new(Semaphore::new(max))),
            max,
            in_flight,
            refused,
        }
    }

    /// A place for one more answer, or the refusal — never a wait.
    pub fn try_take(&self) -> Result<CapacityPermit, Overloaded> {
        let slot = match &self.slots {
            Some(slots) => match Arc::clone(slots).try_acquire_owned() {
                Ok(slot) => Some(slot),
                Err(_) => {
                    self.refused.inc();
                    return Err(Overloaded { max: self.max });
                }
            },
            None => None,
        };
        self.in_flight.inc();
        Ok(CapacityPermit {
            _slot: slot,
            in_flight: self.in_flight.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_bound_questions_are_refused_until_an_answer_ends() {
        let (in_flight, refused) = (Gauge::default(), Counter::default());
        let capacity = Capacity::new(2, in_flight.clone(), refused.clone());
        let first = capacity.try_take().unwrap();
        let _second = capacity.try_take().unwrap();
        assert_eq!(in_flight.get(), 2);
        let err = capacity.try_take().unwrap_err();
        assert_eq!(err, Overloaded { max: 2 });
        assert_eq!(
            err.to_string(),
            "the server is at capacity (answers in progress: 2, its maximum); retry in 1 s"
        );
        assert_eq!(refused.get(), 1);
        drop(first);
        assert_eq!(in_flight.get(), 1);
        assert!(
            capacity.try_take().is_ok(),
            "a finished answer frees its place"
        );
    }

    #[test]
    fn zero_means_unlimited_but_still_counted() {
        let (in_flight, refused) = (Gauge::default(), Counter::default());
        let capacity = Capacity::new(0, in_flight.clone(), refused.clone());
        let permits: Vec<_> = (0..1000).map(|_| capacity.try_take().unwrap()).collect();
        assert_eq!(in_flight.get(), 1000);
        drop(permits);
        assert_eq!((in_flight.get(), refused.get()), (0, 0));
    }
}
