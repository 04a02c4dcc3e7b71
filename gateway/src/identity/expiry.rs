//! When a key created now for `days` days stops working.

/// The longest lifetime a key may be given: a hundred years (later dates overflow calendars).
pub const MAX_KEY_DAYS: u32 = 36_500;

/// The RFC 3339 expiry of a key created now that lasts `days` days, or why it cannot.
pub fn expiry_in_days(days: u32) -> Result<String, String> {
    if !(1..=MAX_KEY_DAYS).contains(&days) {
        return Err(format!(
            "`expires_in_days` must be between 1 and {MAX_KEY_DAYS} (got {days})"
        ));
    }
    chrono::Utc::now()
        .checked_add_signed(chrono::Duration::days(i64::from(days)))
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .ok_or_else(|| format!("`expires_in_days` {days} is too far in the future"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_not_overflowing() {
        assert!(expiry_in_days(1).is_ok());
        assert!(expiry_in_days(MAX_KEY_DAYS).unwrap().starts_with("21"));
        for days in [0, MAX_KEY_DAYS + 1, u32::MAX] {
            let err = expiry_in_days(days).unwrap_err();
            assert!(err.contains("between 1 and 36500"), "{err}");
        }
    }
}
