#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The document formats through the public `parse` API, on files from real producers
//! (`tests/fixtures/`, made by `tests/fixtures/generate.py`) and on broken ones built here, plus a
//! folder sync in which broken files fail alone.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ragway_catalog::Catalog;
use ragway_ingest::chunk::{Chunker, ChunkerConfig};
use ragway_ingest::embed::{Bm25Config, Bm25Encoder};
use ragway_ingest::lang::Lang;
use ragway_ingest::model::ParsedDocument;
use ragway_ingest::parse::{Format, parse};
use ragway_ingest::source::FolderSourceConfig;
use ragway_ingest::store::{EdgeStore, SearchQuery, Sparse, VectorStore};
use ragway_ingest::{Indexer, IngestError};

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

/// Parses `bytes` as the format of `name`'s extension.
fn parse_as(name: &str, bytes: &[u8]) -> Result<ParsedDocument, IngestError> {
    let path = Path::new(name);
    let format = Format::from_path(path).unwrap_or_else(|| panic!("no format for {name}"));
    let stem = path.file_stem().unwrap().to_str().unwrap();
    parse(format, name, stem, bytes)
}

/// The reason of a parse error (anything else fails the test).
fn parse_failure(name: &str, bytes: &[u8]) -> String {
    match parse_as(name, bytes) {
        Err(IngestError::Parse { uri, reason }) => {
            assert_eq!(uri, name);
            reason
        }
        other => panic!("{name}: expected a parse error, got {other:?}"),
    }
}

/// (page, heading path, text) of every section.
fn outline(doc: &ParsedDocument) -> Vec<(Option<u32>, String, String)> {
    doc.sections
        .iter()
        .map(|s| (s.page, s.heading_path.join(" / "), s.text.clone()))
        .collect()
}

fn owned(rows: &[(Option<u32>, &str, &str)]) -> Vec<(Option<u32>, String, String)> {
    rows.iter()
        .map(|(page, path, text)| (*page, (*path).to_owned(), (*text).to_owned()))
        .collect()
}

#[test]
fn extensions_choose_formats() {
    let format = |name: &str| Format::from_path(Path::new(name));
    assert_eq!(format("a/Guide.PDF"), Some(Format::Pdf));
    assert_eq!(format("policy.docx"), Some(Format::Docx));
    assert_eq!(format("deck.pptx"), Some(Format::Pptx));
    assert_eq!(format("rates.xlsx"), Some(Format::Xlsx));
    assert_eq!(format("export.csv"), Some(Format::Csv));
    assert_eq!(format("faq.json"), Some(Format::Json));
    assert_eq!(format("notes.txt"), Some(Format::Text));
    assert_eq!(format("legacy.doc"), None);
}

const HANDBOOK_PAGES: &[(Option<u32>, &str, &str)] = &[
    (
        Some(1),
        "",
        "Employee handbook\n\nWelcome to Acme. Badges open every door on site.\nLost badges cost 200 MXN.",
    ),
    (
        Some(2),
        "",
        "Vacations\n\nRequest vacations in the portal two weeks ahead.\nAño nuevo is a paid holiday.",
    ),
    (Some(3), "", "Safety\n\nWear boots on the plant floor."),
];

#[test]
fn pdf_text_per_page() {
    let doc = parse_as("handbook.pdf", &fixture("handbook.pdf")).unwrap();
    assert_eq!(doc.title, "Employee handbook");
    assert_eq!(doc.mime, "application/pdf");
    assert_eq!(outline(&doc), owned(HANDBOOK_PAGES));
}

#[test]
fn encrypted_pdfs() {
    let reason = parse_failure("locked.pdf", &fixture("locked.pdf"));
    assert_eq!(reason, "encrypted PDF: a password is required to open it");
    let reason = parse_failure("no-copy.pdf", &fixture("no-copy.pdf"));
    assert_eq!(
        reason,
        "encrypted PDF: its permissions do not allow copying text"
    );
    // Opens without a password and allows copying: read like any viewer shows it.
    let doc = parse_as("copy-allowed.pdf", &fixture("copy-allowed.pdf")).unwrap();
    assert_eq!(outline(&doc), owned(HANDBOOK_PAGES));
}

#[test]
fn corrupt_pdfs() {
    let bytes = fixture("handbook.pdf");
    for (label, broken) in [
        ("truncated", &bytes[..bytes.len() / 2]),
        ("cut in the header", &bytes[..400]),
        ("garbage", b"%PDF-1.7\n\x00\x01 obj << /Kids [" as &[u8]),
    ] {
        let reason = parse_failure("broken.pdf", broken);
        assert!(reason.starts_with("corrupt PDF"), "{label}: {reason}");
    }
    let reason = parse_failure("image.pdf", b"\x89PNG\r\n\x1a\n");
    assert_eq!(reason, "corrupt PDF: no %PDF header");
}

#[test]
fn docx_headings_lists_and_tables() {
    let doc = parse_as("policy.docx", &fixture("policy.docx")).unwrap();
    assert_eq!(doc.title, "Travel policy");
    assert_eq!(
        doc.mime,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    assert_eq!(
        outline(&doc),
        owned(&[
            (None, "", "Applies to all employees and contractors."),
            (
                None,
                "Per diem",
                "Daily allowances by city:\n\nCity | Amount\nMonterrey | 900 MXN\nOaxaca | 750 MXN"
            ),
            (
                None,
                "Per diem / Receipts",
                "- Keep every receipt.\n- Scan receipts within 5 days."
            ),
            (
                None,
                "Approvals",
                "Your manager approves trips over 10,000 MXN."
            ),
        ])
    );
}

#[test]
fn pptx_slides_are_pages() {
    let doc = parse_as("onboarding.pptx", &fixture("onboarding.pptx")).unwrap();
    assert_eq!(doc.title, "Safety onboarding");
    assert_eq!(
        doc.mime,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    );
    assert_eq!(
        outline(&doc),
        owned(&[
            (Some(1), "", "Plant 2, March 2024"),
            (
                Some(2),
                "Protective equipment",
                "Wear boots\nGoggles at the lathe\n\nNotes: Mention the 2023 audit."
            ),
            (Some(3), "Slide 3", "Questions? Call extension 4410."),
        ])
    );
}

#[test]
fn xlsx_sheets_of_header_value_rows() {
    let doc = parse_as("rates.xlsx", &fixture("rates.xlsx")).unwrap();
    assert_eq!(doc.title, "Travel rates");
    assert_eq!(
        doc.mime,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        outline(&doc),
        owned(&[
            (
                None,
                "Per diem",
                "City: Monterrey; Amount: 900; Updated: 2024-03-15\nCity: Oaxaca; Amount: 750.5"
            ),
            (None, "Contacts", "Name: Travel desk; Extension: 4410"),
        ])
    );
}

#[test]
fn truncated_office_files_are_parse_errors() {
    for name in ["policy.docx", "onboarding.pptx", "rates.xlsx"] {
        let bytes = fixture(name);
        let kind = name.rsplit('.').next().unwrap().to_ascii_uppercase();
        for cut in [bytes.len() / 2, bytes.len() - 10, 30] {
            let reason = parse_failure(name, &bytes[..cut]);
            assert!(
                reason.starts_with(&format!("corrupt {kind}")),
                "{name} cut at {cut}: {reason}"
            );
        }
    }
    let reason = parse_failure("renamed.docx", b"just text, not a zip");
    assert!(reason.starts_with("corrupt DOCX"), "{reason}");
}

#[test]
fn zip_bombs_are_parse_errors() {
    // 300 MiB of zeros deflate to about 300 KiB: past the 256 MiB unpack cap.
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    writer.start_file("word/document.xml", options).unwrap();
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..300 {
        writer.write_all(&zeros).unwrap();
    }
    let bomb = writer.finish().unwrap().into_inner();
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    let reason = parse_failure("bomb.docx", &bomb);
    assert!(reason.contains("zip bomb"), "{reason}");
}

#[test]
fn csv_rows_carry_their_headers() {
    let csv = "\u{feff}Name,Extension,Notes\r\nTravel desk,4410,\"Mon-Fri, 9-18\"\r\nIT help,4400\r\n,,\r\n";
    let doc = parse_as("phone-list.csv", csv.as_bytes()).unwrap();
    assert_eq!(doc.title, "Phone list");
    assert_eq!(doc.mime, "text/csv");
    assert_eq!(
        outline(&doc),
        owned(&[(
            None,
            "",
            "Name: Travel desk; Extension: 4410; Notes: Mon-Fri, 9-18\nName: IT help; Extension: 4400"
        )])
    );
    let reason = parse_failure("binary.csv", b"a,b\n\x00\x01");
    assert!(reason.contains("binary"), "{reason}");
}

#[test]
fn json_nested_values() {
    let json = r#"{"service": "VPN", "config": {"server": "vpn.acme.example", "port": 443,
        "regions": [{"name": "MX", "primary": true}, {"name": "US"}]}, "retired": null}"#;
    let doc = parse_as("vpn.json", json.as_bytes()).unwrap();
    assert_eq!(doc.title, "Vpn");
    assert_eq!(doc.mime, "application/json");
    assert_eq!(
        doc.sections[0].text,
        "service: VPN\nconfig.server: vpn.acme.example\nconfig.port: 443\n\
         config.regions[0].name: MX\nconfig.regions[0].primary: true\nconfig.regions[1].name: US"
    );
    let reason = parse_failure("broken.json", br#"{"a": }"#);
    assert!(reason.starts_with("invalid JSON"), "{reason}");
    let reason = parse_failure("empty.json", b"{}");
    assert!(reason.contains("no text"), "{reason}");
}

/// A folder of good documents with broken ones among them: the broken ones fail with their
/// reason, the rest are indexed, with page numbers in the stored payloads.
#[tokio::test]
async fn folder_sync_skips_broken_documents() {
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(docs.path().join(name), bytes).unwrap();
    write("handbook.pdf", &fixture("handbook.pdf"));
    write("policy.docx", &fixture("policy.docx"));
    write("readme.md", b"# Readme\nBadge office hours are 9 to 5.\n");
    let docx = fixture("policy.docx");
    write("broken.docx", &docx[..docx.len() / 2]);
    write("locked.pdf", &fixture("locked.pdf"));
    write("bad.json", b"{\"a\": ");

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
    // Small chunks, so each PDF page is chunked on its own.
    let chunker = Chunker::new(&ChunkerConfig {
        max_tokens: 32,
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
        max_document_bytes: 20 * 1024 * 1024,
        write_batch_points: 1024,
        flush_interval: std::time::Duration::from_secs(2),
        rewrite_all: false,
    };
    let report = indexer
        .sync_folder(
            "acme",
            "docs",
            docs.path(),
            &FolderSourceConfig::default(),
            &|_| {},
        )
        .await
        .unwrap();

    assert_eq!(report.added, 3, "{report:?}");
    let mut failures: Vec<(&str, &str)> = report
        .failures
        .iter()
        .map(|f| (f.uri.as_str(), f.reason.as_str()))
        .collect();
    failures.sort();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert_eq!(failures[0].0, "bad.json");
    assert!(failures[0].1.contains("invalid JSON"), "{failures:?}");
    assert_eq!(failures[1].0, "broken.docx");
    assert!(failures[1].1.contains("corrupt DOCX"), "{failures:?}");
    assert_eq!(failures[2].0, "locked.pdf");
    assert!(failures[2].1.contains("encrypted PDF"), "{failures:?}");

    let sparse = bm25.embed_query("vacations portal", Lang::En);
    let hits = store
        .search(SearchQuery::unfiltered(
            "acme",
            Sparse {
                indices: sparse.indices,
                values: sparse.values,
            },
            None,
            5,
        ))
        .await
        .unwrap();
    let top = &hits.first().expect("the PDF page is indexed").payload;
    assert_eq!(top.uri, "handbook.pdf");
    assert_eq!(top.page, Some(2));
    assert!(
        top.text.contains("Request vacations in the portal"),
        "{top:?}"
    );
    assert!(
        hits.iter()
            .filter(|h| h.payload.uri != "handbook.pdf")
            .all(|h| h.payload.page.is_none()),
        "{hits:?}"
    );
}
