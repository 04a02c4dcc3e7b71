#![cfg(feature = "local-embedder")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The in-process all-MiniLM-L6-v2 against sentence-transformers' own vectors
//! (tests/fixtures/minilm-reference.json, made by scripts/reference-vectors.py).

use std::path::PathBuf;

use ragway_ingest::embed::{Embedder, LocalEmbedder, LocalEmbedderConfig};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<Sentence>,
}

#[derive(Deserialize)]
struct Sentence {
    text: String,
    vector: Vec<f32>,
}

/// The model `scripts/fetch-minilm` installs (`scripts/test` runs it).
fn model_dir() -> PathBuf {
    let dir = LocalEmbedderConfig::default().resolved_model_dir();
    assert!(
        dir.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2 is not in {}: run scripts/fetch-minilm",
        dir.display()
    );
    dir
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectors_match_sentence_transformers() {
    let reference: Reference =
        serde_json::from_str(include_str!("fixtures/minilm-reference.json")).unwrap();
    let embedder = LocalEmbedder::open(LocalEmbedderConfig {
        batch_size: 3, // several batches, each padded differently
        ..LocalEmbedderConfig::new(model_dir())
    })
    .await
    .unwrap();
    assert_eq!(embedder.dimensions(), 384);
    assert_eq!(embedder.model(), "all-MiniLM-L6-v2");
    let texts: Vec<String> = reference.sentences.iter().map(|s| s.text.clone()).collect();
    let vectors = embedder.embed(texts).await.unwrap();
    assert_eq!(vectors.len(), reference.sentences.len());
    for (sentence, vector) in reference.sentences.iter().zip(&vectors) {
        let similarity = cosine(vector, &sentence.vector);
        assert!(
            similarity >= 0.99,
            "{:?}: cosine {similarity} with sentence-transformers' vector",
            sentence.text
        );
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
    }
    // Alone or in a batch with longer texts, a sentence gets the same vector (padding is masked).
    let alone = embedder
        .embed(vec![reference.sentences[6].text.clone()])
        .await
        .unwrap();
    assert!(cosine(&alone[0], &vectors[6]) > 0.9999);
    assert!(embedder.embed(Vec::new()).await.unwrap().is_empty());
}

/// A chunk longer than the model's 256 word pieces: its second half counts in `windows` (the
/// default), not in `truncate` (sentence-transformers' behaviour).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_texts_are_embedded_whole_in_windows() {
    use ragway_ingest::embed::local::LongTexts;
    let open = |long_texts| {
        LocalEmbedder::open(LocalEmbedderConfig {
            long_texts,
            ..LocalEmbedderConfig::new(model_dir())
        })
    };
    let windows = open(LongTexts::Windows).await.unwrap();
    let truncate = open(LongTexts::Truncate).await.unwrap();
    let first = "The crane must be inspected before every shift. ".repeat(30);
    let second = "Expense reports are due within 30 days of travel. ".repeat(30);
    let text = format!("{first}{second}");
    let pieces = windows.word_pieces(vec![text.clone()]).await.unwrap();
    assert!(pieces[0] > 2 * 254, "{pieces:?} word pieces");
    let whole = windows.embed(vec![text.clone()]).await.unwrap();
    let cut = truncate.embed(vec![text]).await.unwrap();
    let second_alone = windows.embed(vec![second]).await.unwrap();
    for v in [&whole[0], &cut[0]] {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
    }
    let (with, without) = (
        cosine(&whole[0], &second_alone[0]),
        cosine(&cut[0], &second_alone[0]),
    );
    assert!(
        with > without + 0.1,
        "second half: cosine {with} in windows, {without} truncated"
    );
    // A text that fits gets the same vector either way.
    let short = vec!["How do I connect to the VPN from home?".to_owned()];
    let (a, b) = (
        windows.embed(short.clone()).await.unwrap(),
        truncate.embed(short).await.unwrap(),
    );
    assert!(cosine(&a[0], &b[0]) > 0.9999);
}

#[tokio::test]
async fn a_missing_model_names_the_file_and_the_script() {
    let empty = tempfile::tempdir().unwrap();
    let err = LocalEmbedder::open(LocalEmbedderConfig::new(empty.path()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("config.json is missing"), "{err}");
    assert!(err.contains("scripts/fetch-minilm"), "{err}");
}
