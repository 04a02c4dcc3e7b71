//! robots.txt as RFC 9309 defines it: the group for our agent token (else `*`), longest matching
//! `Allow`/`Disallow` rule wins (`Allow` on a tie), `*` and `$` in patterns; plus the
//! widespread `Crawl-delay` extension.

use std::time::Duration;

/// RFC 9309: crawlers must read at least 500 KiB; the rest of a longer file is ignored (files
/// up to four times this size are downloaded and cut, larger ones count as unavailable).
pub const MAX_ROBOTS_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Robots {
    /// (allow, pattern) of the group that applies to us.
    rules: Vec<(bool, String)>,
    crawl_delay: Option<Duration>,
}

#[derive(Default)]
struct Group {
    agents: Vec<String>,
    rules: Vec<(bool, String)>,
    crawl_delay: Option<Duration>,
}

impl Robots {
    /// Everything allowed (no robots.txt, or a 4xx for it).
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Parses `text` for the agent `token` (lowercase product name, e.g. `ragway`).
    pub fn parse(text: &str, token: &str) -> Self {
        let text = truncate(text, MAX_ROBOTS_BYTES);
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push(Group::default());
                    }
                    in_agents = true;
                    if let Some(group) = groups.last_mut() {
                        group.agents.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    // An empty Disallow allows everything: no rule.
                    if let (Some(group), false) = (groups.last_mut(), value.is_empty()) {
                        group.rules.push((key == "allow", value.to_owned()));
                    }
                }
                "crawl-delay" => {
                    in_agents = false;
                    let delay = value
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
                    if let (Some(group), Some(delay)) = (groups.last_mut(), delay) {
                        group.crawl_delay = Some(delay);
                    }
                }
                _ => {}
            }
        }
        // Groups naming our token are merged; without one, the `*` groups apply.
        let ours: Vec<&Group> = groups
            .iter()
            .filter(|g| g.agents.iter().any(|a| a == token))
            .collect();
        let chosen = if ours.is_empty() {
            groups
                .iter()
                .filter(|g| g.agents.iter().any(|a| a == "*"))
                .collect()
        } else {
            ours
        };
        Self {
            rules: chosen.iter().flat_map(|g| g.rules.clone()).collect(),
            crawl_delay: chosen.iter().find_map(|g| g.crawl_delay),
        }
    }

    /// Whether `path` (path plus `?query`, starting with `/`) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        if path == "/robots.txt" {
            return true;
        }
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let better = match best {
                    None => true,
                    Some((len, best_allow)) => {
                        pattern.len() > len || (pattern.len() == len && *allow && !best_allow)
                    }
                };
                if better {
                    best = Some((pattern.len(), *allow));
                }
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }

    pub fn crawl_delay(&self) -> Option<Duration> {
        self.crawl_delay
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Pattern match from the start of `path`: `*` matches any run, a final `$` anchors the end.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let pieces: Vec<&str> = pattern.split('*').collect();
    let mut rest = path;
    for (i, piece) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        if i == 0 {
            let Some(after) = rest.strip_prefix(piece) else {
                return false;
            };
            rest = after;
            if last {
                return !anchored || rest.is_empty();
            }
            continue;
        }
        if last && anchored {
            return rest.ends_with(piece);
        }
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROBOTS: &str = "\
# comments are ignored
User-agent: googlebot
Disallow: /

User-agent: *
Disallow: /private/
Allow: /private/press/
Disallow: /*.pdf$
Disallow: /search?
Crawl-delay: 2.5
";

    #[test]
    fn the_star_group_applies_without_our_token() {
        let robots = Robots::parse(ROBOTS, "ragway");
        assert!(robots.allows("/"));
        assert!(robots.allows("/docs/a.html"));
        assert!(!robots.allows("/private/salaries.html"));
        assert!(
            robots.allows("/private/press/release.html"),
            "longer Allow wins"
        );
        assert!(!robots.allows("/files/report.pdf"));
        assert!(robots.allows("/files/report.pdf.html"), "$ anchors the end");
        assert!(!robots.allows("/search?q=vpn"));
        assert!(robots.allows("/robots.txt"));
        assert_eq!(robots.crawl_delay(), Some(Duration::from_millis(2500)));
    }

    #[test]
    fn our_group_wins_and_groups_can_share_rules() {
        let text = "User-agent: *\nDisallow: /\n\nUser-agent: other\nUser-agent: RagWay\nDisallow: /drafts\nAllow: /\n";
        let robots = Robots::parse(text, "ragway");
        assert!(robots.allows("/handbook"));
        assert!(!robots.allows("/drafts/x"));
        assert_eq!(robots.crawl_delay(), None);
        let other = Robots::parse(text, "someone");
        assert!(!other.allows("/handbook"));
    }

    #[test]
    fn ties_prefer_allow_and_empty_disallow_allows() {
        let robots = Robots::parse("User-agent: *\nDisallow: /page\nAllow: /page\n", "x");
        assert!(robots.allows("/page"));
        let open = Robots::parse("User-agent: *\nDisallow:\n", "x");
        assert!(open.allows("/anything"));
        assert!(Robots::parse("garbage\n\0\u{1}", "x").allows("/a"));
    }

    #[test]
    fn wildcards() {
        assert!(matches("/a*/c", "/a/b/c"));
        assert!(matches("/a*c$", "/abc"));
        assert!(!matches("/a*c$", "/abcd"));
        assert!(matches("*", "/x"));
        assert!(matches("/", "/x"));
        assert!(!matches("/b", "/a"));
    }
}
