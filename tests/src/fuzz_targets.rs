//! Every parser of untrusted bytes ragway has, as fuzz targets with valid seed documents: the
//! document formats (each parsed, then chunked), and the crawler's robots.txt, sitemap and link
//! parsers. `tests/tests/fuzz.rs` runs them with a small budget in CI, `bench/fuzz.rs` with a
//! large one (docs/RELIABILITY.md).

use ragway_ingest::chunk::{Chunker, ChunkerConfig};
use ragway_ingest::parse::{Format, parse};
use ragway_ingest::source::web::fuzz_targets;

use crate::fuzz::{FuzzReport, fuzz};
use crate::samples::{self, Prose};

/// Seeds of one document format.
fn document_seeds(format: Format) -> Vec<Vec<u8>> {
    (0..3u64)
        .map(|seed| {
            let mut prose = Prose::new(seed + 1);
            let title = prose.title();
            let body = samples::sections(&mut prose, 2 + seed as usize, 2);
            match format {
                Format::Markdown => samples::markdown(&title, &body).into_bytes(),
                Format::Text => samples::text(&title, &body).into_bytes(),
                Format::Html => {
                    samples::html(&title, &body, &["/a".into(), "b.html".into()]).into_bytes()
                }
                Format::Csv => samples::csv(&mut prose, 20).into_bytes(),
                Format::Json => samples::json(&mut prose, 5).into_bytes(),
                Format::Pdf => samples::pdf(&title, &samples::pdf_pages(&mut prose, 2, 8)),
                Format::Docx => samples::docx(&title, &body),
                Format::Pptx => samples::pptx(&body),
                Format::Xlsx => samples::xlsx(&mut prose, 10),
            }
        })
        .collect()
}

const FORMATS: [(&str, Format); 9] = [
    ("markdown", Format::Markdown),
    ("text", Format::Text),
    ("html", Format::Html),
    ("csv", Format::Csv),
    ("json", Format::Json),
    ("pdf", Format::Pdf),
    ("docx", Format::Docx),
    ("pptx", Format::Pptx),
    ("xlsx", Format::Xlsx),
];

/// The Office formats are zips whose CRCs make almost every byte-level mutation a refused
/// container: these targets mutate the XML part that carries the text and zip it again, so the
/// XML readers get the mutations.
const OFFICE_PARTS: [(&str, Format, &str); 3] = [
    ("docx xml", Format::Docx, "word/document.xml"),
    ("pptx xml", Format::Pptx, "ppt/slides/slide1.xml"),
    ("xlsx sheet", Format::Xlsx, "xl/worksheets/sheet1.xml"),
];

/// A zip's entries, in order.
fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return Vec::new();
    };
    (0..archive.len())
        .filter_map(|i| {
            let mut entry = archive.by_index(i).ok()?;
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).ok()?;
            let name = entry.name().ok()?.into_owned();
            Some((name, content))
        })
        .collect()
}

const ROBOTS: &str = "User-agent: *\nDisallow: /private/\nAllow: /private/public$\nCrawl-delay: 2\n\n\
                      User-agent: ragway\nDisallow: /*.pdf$\nSitemap: https://intranet.example/sitemap.xml\n";
const SITEMAP: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
                       <url><loc>https://intranet.example/a</loc><lastmod>2026-01-01</lastmod></url>\
                       <url><loc>https://intranet.example/b?x=1&amp;y=2</loc></url></urlset>";
const SITEMAP_INDEX: &str = "<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
                             <sitemap><loc>https://intranet.example/s1.xml</loc></sitemap></sitemapindex>";

/// Runs every target with `executions` mutated inputs each (plus its seeds), from `seed`.
pub fn run_all(executions: usize, seed: u64) -> Vec<FuzzReport> {
    let mut reports = Vec::new();
    let chunker = Chunker::new(&ChunkerConfig::default()).ok();
    for (name, format) in FORMATS {
        let seeds = document_seeds(format);
        reports.push(fuzz(name, &seeds, executions, seed, |bytes| {
            let doc = parse(format, "fuzz/input", "input", bytes)?;
            if let Some(chunker) = &chunker {
                let _ = chunker.chunk(&doc);
            }
            Ok::<(), ragway_ingest::IngestError>(())
        }));
    }
    for (name, format, part) in OFFICE_PARTS {
        let container = document_seeds(format).swap_remove(0);
        let entries = zip_entries(&container);
        let seeds: Vec<Vec<u8>> = entries
            .iter()
            .filter(|(entry, _)| entry == part)
            .map(|(_, xml)| xml.clone())
            .collect();
        if seeds.is_empty() {
            continue;
        }
        reports.push(fuzz(name, &seeds, executions, seed, |xml| {
            let zipped: Vec<(&str, Vec<u8>)> = entries
                .iter()
                .map(|(entry, content)| {
                    let content = if entry == part {
                        xml.to_vec()
                    } else {
                        content.clone()
                    };
                    (entry.as_str(), content)
                })
                .collect();
            let doc = parse(format, "fuzz/input", "input", &samples::zip_of(&zipped))?;
            if let Some(chunker) = &chunker {
                let _ = chunker.chunk(&doc);
            }
            Ok::<(), ragway_ingest::IngestError>(())
        }));
    }
    reports.push(fuzz(
        "robots.txt",
        &[ROBOTS.as_bytes().to_vec()],
        executions,
        seed,
        |bytes| {
            fuzz_targets::robots(&String::from_utf8_lossy(bytes));
            Ok::<(), ()>(())
        },
    ));
    reports.push(fuzz(
        "sitemap",
        &[
            SITEMAP.as_bytes().to_vec(),
            SITEMAP_INDEX.as_bytes().to_vec(),
        ],
        executions,
        seed,
        fuzz_targets::sitemap,
    ));
    let page = samples::html(
        "Links",
        &[],
        &["/a".into(), "../b.html".into(), "https://x/".into()],
    );
    reports.push(fuzz(
        "html links",
        &[page.into_bytes()],
        executions,
        seed,
        |bytes| {
            fuzz_targets::links(&String::from_utf8_lossy(bytes));
            Ok::<(), ()>(())
        },
    ));
    reports
}
