//! Anonymous visitors of one widget key share it: every anonymous session spends the key's
//! per-user request budget (`widget-anonymous:{key}`) rather than a fresh one per session — a new
//! session is free to mint, so a per-session budget would be no budget — and their answers in
//! progress are capped per key (`widget.anonymous_streams_per_key`, in this process). A slot is
//! given up when its answer ends, or `widget.anonymous_stream_max_secs` after it started: a
//! stream nobody reads (its body never polled) cannot hold one for ever, and ends at its next
//! event. The client's address is not known to ragway (no trusted-proxy setting), so the budget
//! is per key only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::channels::bots::Clock;
use crate::limits::Refused;

/// The per-user budget every anonymous visitor of widget key `key` spends.
pub fn budget(key: &str) -> String {
    format!("widget-anonymous:{key}")
}

/// The anonymous answers in progress, by widget key.
#[derive(Debug, Default)]
pub struct AnonymousStreams {
    keys: Mutex<HashMap<String, Vec<Arc<Slot>>>>,
}

#[derive(Debug)]
struct Slot {
    /// Unix seconds (the widget's clock).
    started: i64,
    released: AtomicBool,
}

/// Held by one anonymous answer; dropping it frees the slot.
#[derive(Debug)]
pub struct AnonymousSlot {
    slot: Arc<Slot>,
    expires: i64,
    clock: Clock,
}

impl AnonymousSlot {
    /// Whether the answer has held its slot too long and must end.
    pub fn expired(&self) -> bool {
        self.clock.now() >= self.expires
    }
}

impl Drop for AnonymousSlot {
    fn drop(&mut self) {
        self.slot.released.store(true, Ordering::Release);
    }
}

impl AnonymousStreams {
    /// One of `key`'s `cap` slots (0: no cap, `None`), taken for at most `max_secs`; slots
    /// whose answers ended or ran out of time are reclaimed first.
    pub fn acquire(
        &self,
        key: &str,
        cap: u32,
        max_secs: u64,
        clock: &Clock,
    ) -> Result<Option<AnonymousSlot>, Refused> {
        if cap == 0 {
            return Ok(None);
        }
        let now = clock.now();
        let max = i64::try_from(max_secs).unwrap_or(i64::MAX);
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slots = keys.entry(key.to_owned()).or_default();
        slots
            .retain(|s| !s.released.load(Ordering::Acquire) && now.saturating_sub(s.started) < max);
        if slots.len() >= usize::try_from(cap).unwrap_or(usize::MAX) {
            return Err(Refused::simple(
                "concurrent_streams",
                u64::from(cap),
                Duration::from_secs(1),
            ));
        }
        let slot = Arc::new(Slot {
            started: now,
            released: AtomicBool::new(false),
        });
        slots.push(Arc::clone(&slot));
        Ok(Some(AnonymousSlot {
            slot,
            expires: now.saturating_add(max),
            clock: clock.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_key_freed_on_drop_and_reclaimed_when_stale() {
        let clock = Clock::manual(1_000);
        let streams = AnonymousStreams::default();
        let first = streams.acquire("pk_a", 2, 60, &clock).unwrap().unwrap();
        let second = streams.acquire("pk_a", 2, 60, &clock).unwrap();
        assert!(streams.acquire("pk_a", 2, 60, &clock).is_err());
        assert!(streams.acquire("pk_b", 2, 60, &clock).unwrap().is_some());
        drop(second);
        let third = streams.acquire("pk_a", 2, 60, &clock).unwrap();
        assert!(streams.acquire("pk_a", 2, 60, &clock).is_err());
        // Nobody reads `first` or `third`: a minute later their slots are taken back.
        clock.set(1_060);
        assert!(first.expired());
        assert!(streams.acquire("pk_a", 2, 60, &clock).unwrap().is_some());
        drop(third);
        assert!(streams.acquire("pk_a", 0, 60, &clock).unwrap().is_none());
    }
}
