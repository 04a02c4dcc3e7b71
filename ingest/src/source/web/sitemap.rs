//! sitemap.xml (`<urlset>`) and sitemap indexes (`<sitemapindex>`), per sitemaps.org.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::parse::xml_event_text;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sitemap {
    /// Page URLs, in document order.
    Pages(Vec<String>),
    /// URLs of further sitemaps.
    Index(Vec<String>),
}

/// Reads `<loc>` values; anything that is not a sitemap is an error with a reason.
pub fn parse(bytes: &[u8], max_urls: usize) -> Result<Sitemap, String> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut root: Option<String> = None;
    let mut in_loc = false;
    let mut current = String::new();
    let mut locs = Vec::new();
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("not a valid sitemap: {e}"))?;
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                if root.is_none() {
                    if name != "urlset" && name != "sitemapindex" {
                        return Err(format!("not a sitemap: the root element is <{}>", name));
                    }
                    root = Some(name);
                } else if name == "loc" {
                    in_loc = true;
                    current.clear();
                }
            }
            Event::End(e) if in_loc && e.local_name().as_ref() == "loc" => {
                in_loc = false;
                let loc = current.trim();
                if !loc.is_empty() && locs.len() < max_urls {
                    locs.push(loc.to_owned());
                }
            }
            ref other if in_loc => {
                if let Some(text) = xml_event_text(other) {
                    current.push_str(&text);
                }
            }
            _ => {}
        }
        buf.clear();
    }
    match root.as_deref() {
        Some("sitemapindex") => Ok(Sitemap::Index(locs)),
        Some(_) => Ok(Sitemap::Pages(locs)),
        None => Err("not a sitemap: no root element".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_indexes() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://docs.example.com/a.html</loc><lastmod>2026-01-01</lastmod></url>
  <url><loc> https://docs.example.com/b?x=1&amp;y=2 </loc></url>
</urlset>"#;
        assert_eq!(
            parse(xml, 100).unwrap(),
            Sitemap::Pages(vec![
                "https://docs.example.com/a.html".into(),
                "https://docs.example.com/b?x=1&y=2".into()
            ])
        );
        let index = br#"<sm:sitemapindex xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">
<sm:sitemap><sm:loc>https://docs.example.com/s1.xml</sm:loc></sm:sitemap></sm:sitemapindex>"#;
        assert_eq!(
            parse(index, 100).unwrap(),
            Sitemap::Index(vec!["https://docs.example.com/s1.xml".into()])
        );
        let capped = parse(xml, 1).unwrap();
        assert_eq!(
            capped,
            Sitemap::Pages(vec!["https://docs.example.com/a.html".into()])
        );
    }

    #[test]
    fn other_documents_are_errors() {
        assert!(
            parse(b"<html><body>hi</body></html>", 10)
                .unwrap_err()
                .contains("<html>")
        );
        assert!(parse(b"", 10).is_err());
        assert!(parse(b"<urlset><url><loc>x</url>", 10).is_err());
    }
}
