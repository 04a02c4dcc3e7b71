//! Source schedules: `every <n><s|m|h|d>` or a 5-field cron expression (UTC). The next run is
//! always computed from *now*, so runs missed while the gateway was down collapse into one.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use crate::config::sources::SourcesConfig;

#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron(Box<cron::Schedule>),
}

impl Schedule {
    /// The shortest interval the operator allows (`[sources] min_schedule_interval_secs`).
    pub fn min_interval(config: &SourcesConfig) -> Duration {
        Duration::seconds(i64::try_from(config.min_schedule_interval_secs).unwrap_or(i64::MAX))
    }

    /// Parses a schedule as an admin writes it; `min_interval` bounds how often it may fire.
    pub fn parse(text: &str, min_interval: Duration) -> Result<Self, String> {
        let text = text.trim();
        if let Some(every) = text.strip_prefix("every ") {
            let interval = parse_interval(every.trim())?;
            if interval < min_interval {
                return Err(format!(
                    "`{text}` is more often than the allowed minimum of {}s",
                    min_interval.num_seconds()
                ));
            }
            return Ok(Self::Every(interval));
        }
        let fields = text.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "`{text}`: expected `every <n>m|h|d` or a cron expression with 5 fields (minute hour day month weekday, UTC)"
            ));
        }
        // The cron crate wants seconds first; sources are scheduled to the minute.
        let schedule = cron::Schedule::from_str(&format!("0 {text}"))
            .map_err(|e| format!("`{text}` is not a valid cron expression: {e}"))?;
        let mut upcoming = schedule.upcoming(Utc);
        let (Some(first), Some(second)) = (upcoming.next(), upcoming.next()) else {
            return Err(format!("`{text}` never fires"));
        };
        if second - first < min_interval {
            return Err(format!(
                "`{text}` fires more often than the allowed minimum of {}s",
                min_interval.num_seconds()
            ));
        }
        Ok(Self::Cron(Box::new(schedule)))
    }

    /// The first run strictly after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Every(interval) => now.checked_add_signed(*interval),
            Self::Cron(schedule) => schedule.after(&now).next(),
        }
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| {
        format!("`every {text}`: expected a number then s, m, h or d, e.g. `every 6h`")
    })?;
    let seconds = match unit.trim() {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        other => {
            return Err(format!(
                "`every {text}`: unknown unit `{other}` (use s, m, h or d)"
            ));
        }
    };
    if n <= 0 {
        return Err(format!("`every {text}`: the interval must be positive"));
    }
    Ok(Duration::seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn intervals_count_from_now() {
        let s = Schedule::parse("every 6h", Duration::minutes(5)).unwrap();
        assert_eq!(
            s.next_after(at("2026-01-01T10:00:00Z")),
            Some(at("2026-01-01T16:00:00Z"))
        );
    }

    #[test]
    fn cron_is_five_fields_in_utc() {
        let s = Schedule::parse("30 3 * * *", Duration::minutes(5)).unwrap();
        assert_eq!(
            s.next_after(at("2026-01-01T10:00:00Z")),
            Some(at("2026-01-02T03:30:00Z"))
        );
        // Missed runs do not stack: after a long outage the next run is still just the next one.
        assert_eq!(
            s.next_after(at("2026-03-01T04:00:00Z")),
            Some(at("2026-03-02T03:30:00Z"))
        );
    }

    #[test]
    fn bad_schedules_say_why() {
        let min = Duration::minutes(5);
        assert!(
            Schedule::parse("every 1m", min)
                .unwrap_err()
                .contains("minimum")
        );
        assert!(
            Schedule::parse("* * * * *", min)
                .unwrap_err()
                .contains("minimum")
        );
        assert!(
            Schedule::parse("every 3 weeks", min)
                .unwrap_err()
                .contains("unit")
        );
        assert!(Schedule::parse("every -1h", min).is_err());
        assert!(
            Schedule::parse("61 * * * *", min)
                .unwrap_err()
                .contains("cron")
        );
        assert!(
            Schedule::parse("hourly", min)
                .unwrap_err()
                .contains("5 fields")
        );
    }
}
