//! `last_used_at` of API keys is bookkeeping, not a hot-path write: each key is written at most
//! once per interval per process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct KeyTouches {
    last: Mutex<HashMap<String, Instant>>,
}

impl KeyTouches {
    /// True when the key's use should be written now (and remembers that it was).
    pub fn due(&self, key_id: &str) -> bool {
        let now = Instant::now();
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.get(key_id) {
            Some(at) if now.duration_since(*at) < INTERVAL => false,
            _ => {
                last.insert(key_id.to_owned(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_interval_per_key() {
        let touches = KeyTouches::default();
        assert!(touches.due("a"));
        assert!(!touches.due("a"));
        assert!(touches.due("b"));
    }
}
