//! Document ACLs: which groups may see a document. A source has default groups and per-path
//! rules (first match wins); an empty list means every member of the tenant may see it.

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

pub use ragway_catalog::validate_group;

use crate::error::{IngestError, Result};

/// One per-path rule: documents whose uri matches `pattern` are visible to `groups` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRule {
    /// A glob on the source-relative path, e.g. `hr/**`.
    pub pattern: String,
    pub groups: Vec<String>,
}

impl AclRule {
    /// A rule for exactly one path (glob metacharacters in it are escaped).
    pub fn exact(path: &str, groups: &[String]) -> Self {
        Self {
            pattern: globset::escape(path),
            groups: groups.to_vec(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AclConfig {
    /// Groups of every document no rule matches (empty: the whole tenant).
    pub groups: Vec<String>,
    pub rules: Vec<AclRule>,
}

/// The compiled rules of a source.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    groups: Vec<String>,
    rules: Vec<(GlobMatcher, Vec<String>)>,
}

fn normalised(groups: &[String]) -> Result<Vec<String>> {
    for group in groups {
        validate_group(group)?;
    }
    let mut groups = groups.to_vec();
    groups.sort();
    groups.dedup();
    Ok(groups)
}

impl Acl {
    pub fn new(config: &AclConfig) -> Result<Self> {
        let rules = config
            .rules
            .iter()
            .map(|rule| {
                let glob = Glob::new(&rule.pattern).map_err(|e| {
                    IngestError::Config(format!("invalid ACL pattern {:?}: {e}", rule.pattern))
                })?;
                if rule.groups.is_empty() {
                    return Err(IngestError::Config(format!(
                        "the ACL rule for {:?} names no group",
                        rule.pattern
                    )));
                }
                Ok((glob.compile_matcher(), normalised(&rule.groups)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            groups: normalised(&config.groups)?,
            rules,
        })
    }

    /// The groups that may see the document at `uri` (sorted; empty: the whole tenant).
    pub fn groups_for(&self, uri: &str) -> Vec<String> {
        self.rules
            .iter()
            .find(|(glob, _)| glob.is_match(uri))
            .map_or_else(|| self.groups.clone(), |(_, groups)| groups.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_then_the_default() {
        let acl = Acl::new(&AclConfig {
            groups: vec!["staff".into()],
            rules: vec![
                AclRule {
                    pattern: "hr/payroll/**".into(),
                    groups: vec!["payroll".into()],
                },
                AclRule {
                    pattern: "hr/**".into(),
                    groups: vec!["managers".into(), "hr".into(), "hr".into()],
                },
            ],
        })
        .unwrap();
        assert_eq!(acl.groups_for("hr/payroll/2026.md"), ["payroll"]);
        assert_eq!(acl.groups_for("hr/leave.md"), ["hr", "managers"]);
        assert_eq!(acl.groups_for("it/vpn.md"), ["staff"]);
        assert!(
            Acl::default().groups_for("x.md").is_empty(),
            "no ACL: the whole tenant"
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        let empty = AclConfig {
            groups: vec![],
            rules: vec![AclRule {
                pattern: "a/**".into(),
                groups: vec![],
            }],
        };
        assert!(Acl::new(&empty).is_err());
        let blank = AclConfig {
            groups: vec![" ".into()],
            rules: vec![],
        };
        assert!(Acl::new(&blank).is_err());
    }
}
