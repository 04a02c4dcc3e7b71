//! Canonical URLs: one spelling per page, so a page linked as `HTTP://Host:80/a#top` and
//! `http://host/a` is fetched and indexed once.

use std::net::IpAddr;

use url::{Host, Url};

/// Parses an absolute URL and canonicalises it: http(s) only, a host, no credentials, no
/// fragment. The url crate already lowercases the scheme and host, drops default ports and
/// resolves `.`/`..` segments.
pub fn canonical(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("invalid URL {text:?}: {e}"))?;
    finish(url)
}

/// Resolves a link found on `base` (`href`, possibly relative) to a canonical URL.
pub fn join(base: &Url, href: &str) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    finish(base.join(href).ok()?).ok()
}

fn finish(mut url: Url) -> Result<Url, String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{url}: only http and https URLs can be crawled"));
    }
    if url.host().is_none() {
        return Err(format!("{url}: no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{}: credentials in URLs are not accepted",
            url.host_str().unwrap_or_default()
        ));
    }
    url.set_fragment(None);
    if url.query() == Some("") {
        url.set_query(None);
    }
    Ok(url)
}

/// The host an URL names, without port or scheme: the unit of the crawl's scope.
pub fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_owned()
}

/// The address an URL names directly (such URLs bypass name resolution, so the guard checks them).
pub fn ip_literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// What include/exclude and ACL globs match: the path without its leading `/`, plus `?query`.
pub fn path_key(url: &Url) -> String {
    let path = url.path().trim_start_matches('/');
    match url.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    }
}

/// Same as [`path_key`] for a canonical URL string (the uri of an indexed page).
pub fn path_key_of(uri: &str) -> String {
    Url::parse(uri).map(|u| path_key(&u)).unwrap_or_default()
}

/// A title of last resort: the last path segment without extension, else the host.
pub fn name_of(url: &Url) -> String {
    let segment = url
        .path_segments()
        .and_then(|mut s| s.rfind(|seg| !seg.is_empty()))
        .unwrap_or_default();
    let stem = segment.rsplit_once('.').map_or(segment, |(stem, _)| stem);
    let stem = percent_decode(stem);
    if stem.is_empty() { host_of(url) } else { stem }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Links to files no parser reads (images, styles, scripts, media, archives) are not fetched.
pub fn is_asset(url: &Url) -> bool {
    const ASSETS: &[&str] = &[
        "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "css", "js",
        "mjs", "map", "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4", "m4a", "wav", "ogg",
        "webm", "avi", "mov", "mkv", "zip", "gz", "tgz", "tar", "bz2", "xz", "7z", "rar", "exe",
        "msi", "dmg", "iso", "bin", "apk", "wasm", "doc", "ppt", "xls",
    ];
    let last = url.path().rsplit('/').next().unwrap_or_default();
    last.rsplit_once('.')
        .is_some_and(|(_, ext)| ASSETS.contains(&ext.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_page() {
        let url = canonical("HTTP://Docs.Example.COM:80/a/./b/../c.html?x=1#section").unwrap();
        assert_eq!(url.as_str(), "http://docs.example.com/a/c.html?x=1");
        assert_eq!(
            canonical("https://docs.example.com:443").unwrap().as_str(),
            "https://docs.example.com/"
        );
        assert_eq!(
            canonical("https://docs.example.com:8443/?")
                .unwrap()
                .as_str(),
            "https://docs.example.com:8443/"
        );
        assert!(canonical("ftp://docs.example.com/").is_err());
        assert!(canonical("file:///etc/passwd").is_err());
        assert!(canonical("https://user:pw@docs.example.com/").is_err());
        assert!(canonical("not a url").is_err());
    }

    #[test]
    fn links_resolve_against_their_page() {
        let base = canonical("https://docs.example.com/guide/intro.html").unwrap();
        assert_eq!(
            join(&base, "../faq.html#q1").unwrap().as_str(),
            "https://docs.example.com/faq.html"
        );
        assert_eq!(
            join(&base, "//other.example/x").unwrap().as_str(),
            "https://other.example/x"
        );
        assert!(join(&base, "#top").is_none());
        assert!(join(&base, "mailto:it@example.com").is_none());
        assert!(join(&base, "javascript:alert(1)").is_none());
    }

    #[test]
    fn keys_names_literals_and_assets() {
        let url = canonical("https://docs.example.com/hr/Leave%20policy.html?lang=es").unwrap();
        assert_eq!(path_key(&url), "hr/Leave%20policy.html?lang=es");
        assert_eq!(name_of(&url), "Leave policy");
        assert_eq!(
            name_of(&canonical("https://docs.example.com/").unwrap()),
            "docs.example.com"
        );
        assert_eq!(
            ip_literal(&canonical("http://[::ffff:7f00:1]:8080/").unwrap()),
            Some("::ffff:127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            ip_literal(&canonical("http://169.254.169.254/latest/").unwrap()),
            Some("169.254.169.254".parse().unwrap())
        );
        assert_eq!(ip_literal(&canonical("http://localhost/").unwrap()), None);
        assert!(is_asset(&canonical("https://a.example/logo.PNG").unwrap()));
        assert!(!is_asset(
            &canonical("https://a.example/guide.pdf").unwrap()
        ));
        assert!(!is_asset(&canonical("https://a.example/page.php").unwrap()));
    }
}
