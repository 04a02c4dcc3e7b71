//! What a crawled HTML page says about crawling: its links and its robots `<meta>` directives.

use scraper::{Html, Selector};
use url::Url;

use super::canonical;

/// Links kept per page, at most (a generated page can carry hundreds of thousands).
const MAX_LINKS_PER_PAGE: usize = 5_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageLinks {
    /// Canonical absolute URLs, in document order, without duplicates.
    pub links: Vec<String>,
    /// `<meta name="robots" content="noindex">`: the page must not be indexed.
    pub noindex: bool,
    /// `<meta name="robots" content="nofollow">`: its links must not be followed.
    pub nofollow: bool,
}

/// Reads links (`<a href>`, `<area href>`, resolved against `<base href>` or the page URL) and
/// robots directives for `agent` (`robots` or the agent's own name) from an HTML page.
pub fn extract(html: &str, page: &Url, agent: &str) -> PageLinks {
    let document = Html::parse_document(html);
    let mut found = PageLinks::default();
    if let Ok(meta) = Selector::parse("meta[name][content]") {
        for element in document.select(&meta) {
            let name = element
                .attr("name")
                .unwrap_or_default()
                .to_ascii_lowercase();
            if name != "robots" && name != agent {
                continue;
            }
            let content = element
                .attr("content")
                .unwrap_or_default()
                .to_ascii_lowercase();
            apply_directives(&content, &mut found);
        }
    }
    let base = Selector::parse("base[href]")
        .ok()
        .and_then(|s| document.select(&s).next()?.attr("href").map(str::to_owned))
        .and_then(|href| canonical::join(page, &href))
        .unwrap_or_else(|| page.clone());
    let Ok(anchors) = Selector::parse("a[href], area[href]") else {
        return found;
    };
    let mut seen = std::collections::HashSet::new();
    for element in document.select(&anchors) {
        if found.links.len() >= MAX_LINKS_PER_PAGE {
            break;
        }
        let Some(url) = element.attr("href").and_then(|h| canonical::join(&base, h)) else {
            continue;
        };
        let url = url.to_string();
        if seen.insert(url.clone()) {
            found.links.push(url);
        }
    }
    found
}

/// `noindex`, `nofollow`, `none` from a robots meta tag or an `X-Robots-Tag` header value.
pub fn apply_directives(content: &str, found: &mut PageLinks) {
    for directive in content.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        match directive.as_str() {
            "noindex" => found.noindex = true,
            "nofollow" => found.nofollow = true,
            "none" => {
                found.noindex = true;
                found.nofollow = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_dedupe_and_skip_non_http() {
        let page = canonical::canonical("https://docs.example.com/guide/intro.html").unwrap();
        let html = r##"<html><head><title>x</title></head><body>
<a href="setup.html">Setup</a> <a href="setup.html#step-2">again</a>
<a href="/faq.html">FAQ</a> <a href="mailto:it@example.com">mail</a> <a href="#top">top</a>
<map><area href="https://other.example/map"></map> <a>no href</a>
</body></html>"##;
        let found = extract(html, &page, "ragway");
        assert_eq!(
            found.links,
            [
                "https://docs.example.com/guide/setup.html",
                "https://docs.example.com/faq.html",
                "https://other.example/map"
            ]
        );
        assert!(!found.noindex && !found.nofollow);
    }

    #[test]
    fn base_href_and_robots_meta() {
        let page = canonical::canonical("https://docs.example.com/a/b.html").unwrap();
        let html = r#"<html><head><base href="https://docs.example.com/root/">
<meta name="ROBOTS" content="NoIndex, follow"><meta name="ragway" content="nofollow"></head>
<body><a href="c.html">c</a></body></html>"#;
        let found = extract(html, &page, "ragway");
        assert_eq!(found.links, ["https://docs.example.com/root/c.html"]);
        assert!(found.noindex && found.nofollow);
        let other = extract(html, &page, "otherbot");
        assert!(other.noindex && !other.nofollow);
    }
}
