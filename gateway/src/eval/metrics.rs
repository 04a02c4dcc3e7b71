//! Ranking metrics over documents, as BEIR computes them (pytrec_eval): nDCG@k with graded gains
//! and the log2 discount, Recall@k, MRR@k. A query's ranking is its document ids, best first.

use std::collections::HashMap;

/// Relevance judgements of one query: document id → grade (> 0 relevant).
pub type Judgements = HashMap<String, u32>;

/// nDCG@k: DCG of the ranking over the DCG of the ideal ranking of the judged documents.
pub fn ndcg_at(ranking: &[String], judged: &Judgements, k: usize) -> f64 {
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, doc)| gain(judged.get(doc).copied().unwrap_or(0)) / discount(i))
        .sum();
    let mut ideal: Vec<u32> = judged.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &g)| gain(g) / discount(i))
        .sum();
    if idcg == 0.0 { 0.0 } else { dcg / idcg }
}

/// The share of relevant documents found in the first `k`.
pub fn recall_at(ranking: &[String], judged: &Judgements, k: usize) -> f64 {
    let relevant = judged.values().filter(|&&g| g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranking
        .iter()
        .take(k)
        .filter(|doc| judged.get(*doc).is_some_and(|&g| g > 0))
        .count();
    found as f64 / relevant as f64
}

/// 1 / rank of the first relevant document within the first `k` (0 when there is none).
pub fn mrr_at(ranking: &[String], judged: &Judgements, k: usize) -> f64 {
    ranking
        .iter()
        .take(k)
        .position(|doc| judged.get(doc).is_some_and(|&g| g > 0))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

// pytrec_eval's nDCG uses the grade itself as the gain (not 2^grade - 1).
fn gain(grade: u32) -> f64 {
    f64::from(grade)
}

fn discount(position: usize) -> f64 {
    ((position + 2) as f64).log2()
}

/// The four figures `ragway eval` reports, averaged over queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Scores {
    pub ndcg_at_10: f64,
    pub recall_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
}

/// Sums per-query figures; [`Accumulator::mean`] averages them.
#[derive(Debug, Default)]
pub struct Accumulator {
    sum: Scores,
    queries: usize,
}

impl Accumulator {
    pub fn add(&mut self, ranking: &[String], judged: &Judgements) {
        self.sum.ndcg_at_10 += ndcg_at(ranking, judged, 10);
        self.sum.recall_at_10 += recall_at(ranking, judged, 10);
        self.sum.recall_at_100 += recall_at(ranking, judged, 100);
        self.sum.mrr_at_10 += mrr_at(ranking, judged, 10);
        self.queries += 1;
    }

    pub fn mean(&self) -> Scores {
        let n = self.queries.max(1) as f64;
        Scores {
            ndcg_at_10: self.sum.ndcg_at_10 / n,
            recall_at_10: self.sum.recall_at_10 / n,
            recall_at_100: self.sum.recall_at_100 / n,
            mrr_at_10: self.sum.mrr_at_10 / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn judged(pairs: &[(&str, u32)]) -> Judgements {
        pairs.iter().map(|(d, g)| ((*d).to_owned(), *g)).collect()
    }

    // Worked by hand: relevant d1 and d3 (grade 1); ranking d2 d1 d4 d3.
    // DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161
    // IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.63093 = 1.63093 → nDCG = 0.65092
    #[test]
    fn hand_checked_example() {
        let ranking = ids(&["d2", "d1", "d4", "d3"]);
        let qrels = judged(&[("d1", 1), ("d3", 1)]);
        assert!((ndcg_at(&ranking, &qrels, 10) - 0.650_92).abs() < 1e-5);
        assert!((mrr_at(&ranking, &qrels, 10) - 0.5).abs() < 1e-12);
        assert!((recall_at(&ranking, &qrels, 10) - 1.0).abs() < 1e-12);
        assert!((recall_at(&ranking, &qrels, 2) - 0.5).abs() < 1e-12);
        // Cut at 2: only d1 counts; IDCG@2 is unchanged.
        assert!((ndcg_at(&ranking, &qrels, 2) - 0.630_93 / 1.630_93).abs() < 1e-5);
        assert_eq!(mrr_at(&ranking, &qrels, 1), 0.0);
    }

    #[test]
    fn graded_judgements_and_perfect_rankings() {
        let qrels = judged(&[("a", 2), ("b", 1), ("z", 0)]);
        assert!((ndcg_at(&ids(&["a", "b"]), &qrels, 10) - 1.0).abs() < 1e-12);
        // Swapped: DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3).
        let swapped = (1.0 + 2.0 / 3f64.log2()) / (2.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at(&ids(&["b", "a"]), &qrels, 10) - swapped).abs() < 1e-12);
        assert_eq!(ndcg_at(&ids(&["x"]), &judged(&[]), 10), 0.0);
        assert_eq!(recall_at(&ids(&["z"]), &qrels, 10), 0.0);
    }

    #[test]
    fn the_mean_is_over_queries() {
        let mut acc = Accumulator::default();
        acc.add(&ids(&["a"]), &judged(&[("a", 1)]));
        acc.add(&ids(&["x"]), &judged(&[("a", 1)]));
        let mean = acc.mean();
        assert!((mean.ndcg_at_10 - 0.5).abs() < 1e-12);
        assert!((mean.mrr_at_10 - 0.5).abs() < 1e-12);
        assert!((mean.recall_at_100 - 0.5).abs() < 1e-12);
    }
}
