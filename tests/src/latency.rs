//! Latency samples as the benchmarks report them: percentiles in milliseconds.

use std::time::Duration;

/// Sorted samples of one measured path.
#[derive(Debug, Clone)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self(samples)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `p` quantile (0.0–1.0) in milliseconds (nearest rank); 0 without samples.
    pub fn ms(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let index = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[index].as_secs_f64() * 1000.0
    }

    pub fn mean_ms(&self) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.iter().map(Duration::as_secs_f64).sum::<f64>() / self.0.len() as f64 * 1000.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples = Samples::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(samples.ms(0.5), 51.0);
        assert_eq!(samples.ms(0.99), 99.0);
        assert_eq!(samples.ms(1.0), 100.0);
        assert!((samples.mean_ms() - 50.5).abs() < 1e-9);
        assert_eq!(Samples::new(Vec::new()).ms(0.5), 0.0);
    }
}
