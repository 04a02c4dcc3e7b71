//! The limits one tenant gets: the configured defaults, overridden per tenant in
//! `[limits.tenants.<tenant id>]`.

use serde::Serialize;

use crate::config::limits::{LimitsConfig, TenantLimitOverrides};

/// The limits in force for one tenant (0: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Quotas {
    pub requests_per_minute: u32,
    pub burst: u32,
    pub user_requests_per_minute: u32,
    pub user_burst: u32,
    pub tokens_per_minute: u64,
    pub tokens_per_day: u64,
    pub max_concurrent_streams: u32,
}

impl Quotas {
    /// These limits with `overrides` applied where they say something.
    pub fn overridden(self, overrides: &TenantLimitOverrides) -> Self {
        let o = overrides;
        Self {
            requests_per_minute: o.requests_per_minute.unwrap_or(self.requests_per_minute),
            burst: o.burst.unwrap_or(self.burst),
            user_requests_per_minute: o
                .user_requests_per_minute
                .unwrap_or(self.user_requests_per_minute),
            user_burst: o.user_burst.unwrap_or(self.user_burst),
            tokens_per_minute: o.tokens_per_minute.unwrap_or(self.tokens_per_minute),
            tokens_per_day: o.tokens_per_day.unwrap_or(self.tokens_per_day),
            max_concurrent_streams: o
                .max_concurrent_streams
                .unwrap_or(self.max_concurrent_streams),
        }
    }

    /// The limits `overrides` would raise above these (the operator's ceiling), as
    /// `(field, asked, ceiling)`; 0 means unlimited, which is above any finite ceiling.
    pub fn raised_by(&self, overrides: &TenantLimitOverrides) -> Vec<(&'static str, u64, u64)> {
        let o = overrides;
        let fields: [(&'static str, Option<u64>, u64); 7] = [
            (
                "requests_per_minute",
                o.requests_per_minute.map(u64::from),
                self.requests_per_minute.into(),
            ),
            ("burst", o.burst.map(u64::from), self.burst.into()),
            (
                "user_requests_per_minute",
                o.user_requests_per_minute.map(u64::from),
                self.user_requests_per_minute.into(),
            ),
            (
                "user_burst",
                o.user_burst.map(u64::from),
                self.user_burst.into(),
            ),
            (
                "tokens_per_minute",
                o.tokens_per_minute,
                self.tokens_per_minute,
            ),
            ("tokens_per_day", o.tokens_per_day, self.tokens_per_day),
            (
                "max_concurrent_streams",
                o.max_concurrent_streams.map(u64::from),
                self.max_concurrent_streams.into(),
            ),
        ];
        fields
            .into_iter()
            .filter_map(|(name, asked, ceiling)| {
                let asked = asked?;
                let raises = ceiling != 0 && (asked == 0 || asked > ceiling);
                raises.then_some((name, asked, ceiling))
            })
            .collect()
    }

    pub(super) fn resolve(defaults: &LimitsConfig, tenant: Option<&TenantLimitOverrides>) -> Self {
        let base = Self {
            requests_per_minute: defaults.requests_per_minute,
            burst: defaults.burst,
            user_requests_per_minute: defaults.user_requests_per_minute,
            user_burst: defaults.user_burst,
            tokens_per_minute: defaults.tokens_per_minute,
            tokens_per_day: defaults.tokens_per_day,
            max_concurrent_streams: defaults.max_concurrent_streams,
        };
        match tenant {
            Some(overrides) => base.overridden(overrides),
            None => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ceiling_is_raised_by_unlimited_or_more_never_by_less() {
        let ceiling = LimitsConfig {
            tokens_per_day: 20_000,
            requests_per_minute: 0,
            ..LimitsConfig::default()
        }
        .quotas("acme");
        let asked = |o: TenantLimitOverrides| ceiling.raised_by(&o);
        let day = |n| TenantLimitOverrides {
            tokens_per_day: Some(n),
            ..TenantLimitOverrides::default()
        };
        assert_eq!(asked(day(0)), [("tokens_per_day", 0, 20_000)]);
        assert_eq!(asked(day(20_001)), [("tokens_per_day", 20_001, 20_000)]);
        assert!(asked(day(20_000)).is_empty());
        assert!(asked(day(5)).is_empty());
        // No ceiling (0: unlimited): anything goes, unlimited included.
        let rpm = TenantLimitOverrides {
            requests_per_minute: Some(0),
            ..TenantLimitOverrides::default()
        };
        assert!(asked(rpm).is_empty());
        assert!(asked(TenantLimitOverrides::default()).is_empty());
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let mut config = LimitsConfig::default();
        config.tenants.insert(
            "big".into(),
            TenantLimitOverrides {
                requests_per_minute: Some(6000),
                tokens_per_day: Some(1_000_000),
                ..TenantLimitOverrides::default()
            },
        );
        let big = config.quotas("big");
        assert_eq!(big.requests_per_minute, 6000);
        assert_eq!(big.tokens_per_day, 1_000_000);
        assert_eq!(big.burst, config.burst);
        assert_eq!(big.tokens_per_minute, config.tokens_per_minute);
        let other = config.quotas("small");
        assert_eq!(other.requests_per_minute, config.requests_per_minute);
        assert_eq!(other.tokens_per_day, 0);
        // Settings from the admin API apply on top of the configuration.
        let settings = TenantLimitOverrides {
            burst: Some(7),
            ..TenantLimitOverrides::default()
        };
        let both = config.quotas_with("big", &settings);
        assert_eq!((both.requests_per_minute, both.burst), (6000, 7));
    }
}
