//! Copilot profiles: what a caller picks with `model` (OpenAI-compatible API) or `profile`
//! (native API). Each has its own answer generator — an LLM endpoint with its timeouts and
//! fallback chain, or extractive answers — and retrieval depth; a tenant may be limited to some
//! of them, with its own default.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{Config, TenantCopilotConfig};
use crate::error::GatewayError;
use crate::llm::{ChatModel, Extractive, FallbackChat};
use crate::metrics::CircuitGauges;

#[derive(Debug)]
pub struct Profile {
    pub id: String,
    pub description: String,
    pub chat: Arc<dyn ChatModel>,
    /// Passages retrieved when the request does not say.
    pub top_k: usize,
    /// What the answer cache keys on: answers of different models never mix.
    pub cache_identity: String,
    /// How long a request waits for an identical one already computing the answer.
    pub answer_timeout: std::time::Duration,
}

#[derive(Debug)]
pub struct Profiles {
    by_id: BTreeMap<String, Arc<Profile>>,
    default: Arc<Profile>,
    /// Per tenant: allowed ids (in order) and its default.
    tenants: BTreeMap<String, (Vec<String>, String)>,
}

fn profile(
    id: &str,
    description: &str,
    llm: Option<&crate::config::LlmConfig>,
    top_k: usize,
    circuits: &CircuitGauges,
) -> Result<Arc<Profile>, GatewayError> {
    let (chat, cache_identity): (Arc<dyn ChatModel>, String) = match llm {
        Some(llm) => (
            Arc::new(FallbackChat::new(llm, id, circuits)?),
            format!("{id}:{}@{}", llm.model, llm.base_url),
        ),
        None => (Arc::new(Extractive), format!("{id}:extractive")),
    };
    Ok(Arc::new(Profile {
        id: id.to_owned(),
        description: description.to_owned(),
        chat,
        top_k,
        cache_identity,
        answer_timeout: std::time::Duration::from_secs(llm.map_or(5, |l| l.timeout_secs)),
    }))
}

impl Profiles {
    /// Builds every profile and checks the tenants' lists name existing ones (circuit breaker
    /// states are not exported: for checks and tools).
    pub fn build(config: &Config) -> Result<Self, GatewayError> {
        Self::build_with_circuits(config, &CircuitGauges::default())
    }

    /// Builds every profile; each model endpoint's circuit breaker shows in `circuits`.
    pub fn build_with_circuits(
        config: &Config,
        circuits: &CircuitGauges,
    ) -> Result<Self, GatewayError> {
        let copilot = &config.copilot;
        let top_k = config.retrieval.top_k;
        let invalid = |message: String| GatewayError::Config(format!("copilot: {message}"));
        if copilot.model.trim().is_empty() {
            return Err(invalid(
                "`copilot.model` (the default profile's id) is empty".into(),
            ));
        }
        let default = profile(
            &copilot.model,
            &copilot.description,
            config.llm.as_ref(),
            top_k,
            circuits,
        )?;
        let mut by_id = BTreeMap::new();
        by_id.insert(copilot.model.clone(), Arc::clone(&default));
        for (id, settings) in &copilot.profiles {
            if by_id.contains_key(id) {
                return Err(invalid(format!(
                    "profile `{id}` is the default profile's id already"
                )));
            }
            let k = settings.top_k.unwrap_or(top_k);
            if k == 0 || k > config.retrieval.max_top_k {
                return Err(invalid(format!(
                    "profile `{id}`: top_k must be between 1 and {}",
                    config.retrieval.max_top_k
                )));
            }
            by_id.insert(
                id.clone(),
                profile(
                    id,
                    &settings.description,
                    settings.llm.as_ref(),
                    k,
                    circuits,
                )?,
            );
        }
        let mut tenants = BTreeMap::new();
        for (tenant, settings) in &copilot.tenants {
            if settings.profiles.is_empty() {
                return Err(invalid(format!(
                    "tenant `{tenant}` has an empty profile list"
                )));
            }
            if let Some(unknown) = settings.profiles.iter().find(|p| !by_id.contains_key(*p)) {
                return Err(invalid(format!(
                    "tenant `{tenant}` names unknown profile `{unknown}`"
                )));
            }
            let default = settings
                .default
                .clone()
                .unwrap_or_else(|| settings.profiles[0].clone());
            if !settings.profiles.contains(&default) {
                return Err(invalid(format!(
                    "tenant `{tenant}`: its default `{default}` is not among its profiles"
                )));
            }
            tenants.insert(tenant.clone(), (settings.profiles.clone(), default));
        }
        Ok(Self {
            by_id,
            default,
            tenants,
        })
    }

    /// The default profile of the deployment.
    pub fn default_profile(&self) -> &Arc<Profile> {
        &self.default
    }

    /// Checks a tenant's profile list (from the admin API) names existing profiles.
    pub fn validate(&self, settings: &TenantCopilotConfig) -> Result<(), String> {
        if settings.profiles.is_empty() {
            return Err("`profiles` must name at least one profile".into());
        }
        let known = || self.by_id.keys().cloned().collect::<Vec<_>>().join(", ");
        if let Some(unknown) = settings
            .profiles
            .iter()
            .find(|p| !self.by_id.contains_key(*p))
        {
            return Err(format!(
                "unknown profile `{unknown}`; the deployment has: {}",
                known()
            ));
        }
        match &settings.default {
            Some(default) if !settings.profiles.contains(default) => {
                Err(format!("the default `{default}` is not among `profiles`"))
            }
            _ => Ok(()),
        }
    }

    /// The profiles a tenant may use, its default first: its own settings (`own`, from the admin
    /// API) when it has some, else the configuration's, else every profile.
    pub fn for_tenant(
        &self,
        tenant_id: &str,
        own: Option<&TenantCopilotConfig>,
    ) -> Vec<Arc<Profile>> {
        let from_settings = own.filter(|o| self.validate(o).is_ok()).map(|o| {
            let default = o.default.clone().unwrap_or_else(|| o.profiles[0].clone());
            (o.profiles.clone(), default)
        });
        let (ids, default) = match (from_settings, self.tenants.get(tenant_id)) {
            (Some(own), _) => own,
            (None, Some((ids, default))) => (ids.clone(), default.clone()),
            (None, None) => (
                self.by_id.keys().cloned().collect(),
                self.default.id.clone(),
            ),
        };
        let mut ordered = vec![default.clone()];
        ordered.extend(ids.into_iter().filter(|id| *id != default));
        ordered
            .iter()
            .filter_map(|id| self.by_id.get(id).cloned())
            .collect()
    }

    /// The profile a request gets: the one it names, if the tenant may use it, else the
    /// tenant's default. The error lists what the tenant may use.
    pub fn resolve(
        &self,
        tenant_id: &str,
        own: Option<&TenantCopilotConfig>,
        requested: Option<&str>,
    ) -> Result<Arc<Profile>, String> {
        let allowed = self.for_tenant(tenant_id, own);
        let found = match requested {
            Some(id) => allowed.iter().find(|p| p.id == id).cloned(),
            None => allowed.first().cloned(),
        };
        found.ok_or_else(|| {
            let ids: Vec<&str> = allowed.iter().map(|p| p.id.as_str()).collect();
            format!(
                "the copilot profile `{}` does not exist or you do not have access to it; available: {}",
                requested.unwrap_or_default(),
                ids.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProfileConfig, TenantCopilotConfig};

    fn config() -> Config {
        let mut config = Config::default();
        config.copilot.profiles.insert(
            "deep".into(),
            ProfileConfig {
                description: "More passages".into(),
                llm: None,
                top_k: Some(10),
            },
        );
        config.copilot.tenants.insert(
            "acme".into(),
            TenantCopilotConfig {
                profiles: vec!["ragway".into(), "deep".into()],
                default: Some("deep".into()),
            },
        );
        config.copilot.tenants.insert(
            "small".into(),
            TenantCopilotConfig {
                profiles: vec!["ragway".into()],
                default: None,
            },
        );
        config
    }

    #[test]
    fn tenants_get_their_profiles_and_default() {
        let profiles = Profiles::build(&config()).unwrap();
        let acme: Vec<String> = profiles
            .for_tenant("acme", None)
            .iter()
            .map(|p| p.id.clone())
            .collect();
        assert_eq!(acme, ["deep", "ragway"]);
        assert_eq!(profiles.resolve("acme", None, None).unwrap().top_k, 10);
        assert_eq!(profiles.resolve("small", None, None).unwrap().id, "ragway");
        let refused = profiles.resolve("small", None, Some("deep")).unwrap_err();
        assert!(refused.contains("available: ragway"), "{refused}");
        // A tenant without a list may use every profile.
        assert_eq!(profiles.for_tenant("other", None).len(), 2);
        assert_eq!(profiles.resolve("other", None, None).unwrap().id, "ragway");
        // The tenant's own settings win over the configuration.
        let own = TenantCopilotConfig {
            profiles: vec!["deep".into()],
            default: None,
        };
        assert_eq!(
            profiles.resolve("small", Some(&own), None).unwrap().id,
            "deep"
        );
        let unknown = TenantCopilotConfig {
            profiles: vec!["nope".into()],
            default: None,
        };
        assert!(
            profiles
                .validate(&unknown)
                .unwrap_err()
                .contains("unknown profile `nope`")
        );
    }

    #[test]
    fn misconfiguration_is_reported() {
        let mut bad = config();
        bad.copilot.tenants.get_mut("small").unwrap().profiles = vec!["nope".into()];
        let err = Profiles::build(&bad).unwrap_err().to_string();
        assert!(err.contains("unknown profile `nope`"), "{err}");
        let mut bad = config();
        bad.copilot.profiles.get_mut("deep").unwrap().top_k = Some(0);
        assert!(Profiles::build(&bad).is_err());
    }
}
