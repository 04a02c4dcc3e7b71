#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every chunk carries its language: detected per document, per chunk when a document mixes
//! languages, forced by a source's `language`, and the tenant's fallback where detection cannot
//! tell; BM25 analyses each chunk in its language.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ragway_catalog::Catalog;
use ragway_ingest::Indexer;
use ragway_ingest::chunk::{Chunker, ChunkerConfig};
use ragway_ingest::embed::{Bm25Config, Bm25Encoder};
use ragway_ingest::lang::Lang;
use ragway_ingest::source::FolderSourceConfig;
use ragway_ingest::store::{EdgeStore, SearchQuery, Sparse, VectorStore};
use ragway_ingest::sync::{Documents, SyncPlan};

const SPANISH: &str = "Las vacaciones del personal de la planta de Monterrey se solicitan en el portal de \
recursos humanos con dos semanas de anticipación. El supervisor aprueba la solicitud y el área de nómina \
registra los días hábiles tomados durante el año.";
const ENGLISH: &str = "Employees at the Monterrey plant request their vacation through the human resources \
portal two weeks in advance. The supervisor approves the request and payroll records the business days taken \
during the year.";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

struct Setup {
    _data: tempfile::TempDir,
    docs: tempfile::TempDir,
    indexer: Indexer,
    store: Arc<EdgeStore>,
    bm25: Arc<Bm25Encoder>,
}

async fn setup() -> Setup {
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    write(
        docs.path(),
        "politica.md",
        &format!("# Vacaciones\n\n{SPANISH}\n"),
    );
    write(
        docs.path(),
        "policy.md",
        &format!("# Vacation\n\n{ENGLISH}\n"),
    );
    // One document, two languages: each section becomes its own chunk (small chunks).
    write(
        docs.path(),
        "bilingual.md",
        &format!("# Bilingüe\n\n## Español\n\n{SPANISH}\n\n## English\n\n{ENGLISH}\n"),
    );
    // Nothing to tell a language by.
    write(
        docs.path(),
        "ports.md",
        "| 10.20.30.1 | 443 |\n| 10.20.30.2 | 8443 |\n",
    );
    let catalog = Catalog::connect(&ragway_catalog::default_url(data.path()))
        .await
        .unwrap();
    catalog.ensure_tenant("acme").await.unwrap();
    let store = Arc::new(
        EdgeStore::open(&data.path().join("index"), None)
            .await
            .unwrap(),
    );
    let bm25 = Arc::new(Bm25Encoder::new(&Bm25Config::default()).unwrap());
    let chunker = Chunker::new(&ChunkerConfig {
        max_tokens: 64,
        overlap: 0,
        ..ChunkerConfig::default()
    })
    .unwrap();
    let indexer = Indexer {
        catalog,
        store: store.clone(),
        chunker: Arc::new(chunker),
        bm25: bm25.clone(),
        embedder: None,
        max_document_bytes: 1 << 20,
        write_batch_points: 1024,
        flush_interval: std::time::Duration::from_secs(2),
        rewrite_all: false,
    };
    Setup {
        _data: data,
        docs,
        indexer,
        store,
        bm25,
    }
}

/// Languages of the chunks a query finds, by uri.
async fn languages(setup: &Setup, question: &str, lang: Lang) -> BTreeMap<String, Vec<String>> {
    let sparse = setup.bm25.embed_query(question, lang);
    let query = SearchQuery::unfiltered(
        "acme",
        Sparse {
            indices: sparse.indices,
            values: sparse.values,
        },
        None,
        50,
    );
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for hit in setup.store.search(query).await.unwrap() {
        let lang = hit.payload.lang.map_or("none", |l| l.code()).to_owned();
        found.entry(hit.payload.uri).or_default().push(lang);
    }
    for langs in found.values_mut() {
        langs.sort();
        langs.dedup();
    }
    found
}

#[tokio::test]
async fn chunks_carry_their_detected_language_and_are_analysed_in_it() {
    let setup = setup().await;
    let report = setup
        .indexer
        .sync_folder(
            "acme",
            "docs",
            setup.docs.path(),
            &FolderSourceConfig::default(),
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.added, 4, "{report:?}");

    // A Spanish question in Spanish analysis: "vacación" meets "vacaciones" (Spanish stemming).
    let spanish = languages(&setup, "¿cómo solicito una vacación?", Lang::Es).await;
    assert_eq!(spanish["politica.md"], ["es"], "{spanish:?}");
    assert_eq!(spanish["bilingual.md"], ["es"], "{spanish:?}");
    assert!(!spanish.contains_key("policy.md"), "{spanish:?}");

    let english = languages(&setup, "how do I request vacations", Lang::En).await;
    assert_eq!(english["policy.md"], ["en"], "{english:?}");
    assert_eq!(english["bilingual.md"], ["en"], "{english:?}");
    assert!(!english.contains_key("politica.md"), "{english:?}");

    // Too short to tell: the default (English) when neither source nor tenant says otherwise.
    let ports = languages(&setup, "8443", Lang::En).await;
    assert_eq!(ports["ports.md"], ["en"], "{ports:?}");
}

#[tokio::test]
async fn a_source_forces_its_language_and_a_tenant_fills_in_where_detection_cannot() {
    let setup = setup().await;
    let catalog = &setup.indexer.catalog;
    let sync = |language: Option<Lang>, fallback_language: Lang, name: &'static str| {
        let setup = &setup;
        async move {
            let settings = serde_json::json!({ "path": setup.docs.path() });
            let source = catalog
                .upsert_source("acme", name, "folder", &settings)
                .await
                .unwrap();
            let run = catalog.start_sync_run("acme", &source.id).await.unwrap();
            let plan = SyncPlan {
                documents: Documents::Folder {
                    root: setup.docs.path().to_path_buf(),
                    config: FolderSourceConfig::default(),
                },
                language,
                fallback_language,
            };
            setup
                .indexer
                .sync(&source, &run, plan, &|_| {})
                .await
                .unwrap()
        }
    };
    // The tenant speaks Spanish: only the undetectable document takes it.
    let report = sync(None, Lang::Es, "fallback").await;
    assert_eq!(report.added, 4, "{report:?}");
    let ports = languages(&setup, "8443", Lang::Es).await;
    assert_eq!(ports["ports.md"], ["es"], "{ports:?}");
    let english = languages(&setup, "request vacations", Lang::En).await;
    assert_eq!(english["policy.md"], ["en"], "{english:?}");

    // A source declared Spanish: everything in it is Spanish, the English text included.
    sync(Some(Lang::Es), Lang::En, "declared").await;
    // (Analysed as Spanish, "payroll records" only meets the declared source's chunks.)
    let declared = languages(&setup, "payroll records", Lang::Es).await;
    assert_eq!(declared["policy.md"], ["es"], "{declared:?}");
    assert_eq!(declared["bilingual.md"], ["es"], "{declared:?}");
}

/// Documents indexed under other analysis settings are re-indexed although their bytes did not
/// change (an upgrade to language-aware analysis, or a changed `[bm25]`); the same settings skip them.
#[tokio::test]
async fn a_change_of_analysis_re_indexes_unchanged_documents() {
    let setup = setup().await;
    let sync = |indexer: Indexer| {
        let docs = setup.docs.path().to_path_buf();
        async move {
            indexer
                .sync_folder(
                    "acme",
                    "docs",
                    &docs,
                    &FolderSourceConfig::default(),
                    &|_| {},
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(sync(setup.indexer.clone()).await.added, 4);
    // Spanish stemming: "solicitar" meets "solicitan".
    let before = languages(&setup, "solicitar", Lang::Es).await;
    assert!(before.contains_key("politica.md"), "{before:?}");
    let again = sync(setup.indexer.clone()).await;
    assert_eq!((again.unchanged, again.changed), (4, 0), "{again:?}");

    let english = Indexer {
        bm25: Arc::new(
            Bm25Encoder::new(&Bm25Config {
                language: "english".into(),
                ..Bm25Config::default()
            })
            .unwrap(),
        ),
        ..setup.indexer.clone()
    };
    assert_ne!(english.analysis(), setup.indexer.analysis());
    let report = sync(english.clone()).await;
    assert_eq!((report.unchanged, report.changed), (0, 4), "{report:?}");
    // Re-analysed as English ("solicitan" unstemmed), the Spanish stem no longer meets the page.
    let after = languages(&setup, "solicitar", Lang::Es).await;
    assert!(!after.contains_key("politica.md"), "{after:?}");
    assert_eq!(sync(english).await.unchanged, 4);
}
