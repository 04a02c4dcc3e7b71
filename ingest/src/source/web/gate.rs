//! Politeness per host: at most `concurrency` requests in flight, and request starts spaced by
//! the source's delay or the host's robots.txt `Crawl-delay`, whichever is longer.

use std::time::Duration;

use tokio::sync::{Mutex, Semaphore, SemaphorePermit};
use tokio::time::Instant;

#[derive(Debug)]
pub struct HostGate {
    permits: Semaphore,
    next_start: Mutex<Option<Instant>>,
    delay: Duration,
}

impl HostGate {
    pub fn new(concurrency: usize, delay: Duration) -> Self {
        Self {
            permits: Semaphore::new(concurrency.max(1)),
            next_start: Mutex::new(None),
            delay,
        }
    }

    /// Waits for a slot; the request runs while the permit is held.
    pub async fn enter(&self) -> Option<SemaphorePermit<'_>> {
        let permit = self.permits.acquire().await.ok()?;
        let start = {
            let mut next = self.next_start.lock().await;
            let (start, following) = schedule(*next, Instant::now(), self.delay);
            *next = Some(following);
            start
        };
        tokio::time::sleep_until(start).await;
        Some(permit)
    }
}

/// When the next request may start (not before `now`, nor before the slot the previous one
/// left) and the slot it leaves for the one after it.
fn schedule(next: Option<Instant>, now: Instant, delay: Duration) -> (Instant, Instant) {
    let start = next.map_or(now, |next| next.max(now));
    (start, start + delay)
}

/// The delay a host gets: the source's, lengthened to the host's capped `Crawl-delay`.
pub fn host_delay(
    source_delay: Duration,
    crawl_delay: Option<Duration>,
    cap: Duration,
) -> Duration {
    source_delay.max(crawl_delay.unwrap_or_default().min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_are_spaced_by_the_delay() {
        let t0 = Instant::now();
        let delay = Duration::from_millis(500);
        let (first, next) = schedule(None, t0, delay);
        assert_eq!((first, next), (t0, t0 + delay));
        // Asked again at once: waits for the slot.
        let (second, next) = schedule(Some(next), t0 + Duration::from_millis(10), delay);
        assert_eq!(second, t0 + delay);
        assert_eq!(next, t0 + 2 * delay);
        // Asked long after: starts now.
        let late = t0 + Duration::from_secs(10);
        assert_eq!(schedule(Some(next), late, delay).0, late);
    }

    #[test]
    fn crawl_delay_lengthens_up_to_the_cap() {
        let ms = Duration::from_millis;
        assert_eq!(host_delay(ms(250), None, ms(60_000)), ms(250));
        assert_eq!(host_delay(ms(250), Some(ms(2_000)), ms(60_000)), ms(2_000));
        assert_eq!(host_delay(ms(250), Some(ms(100)), ms(60_000)), ms(250));
        assert_eq!(host_delay(ms(0), Some(ms(600_000)), ms(60_000)), ms(60_000));
    }
}
