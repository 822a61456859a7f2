//! Cron schedules with an IANA timezone (issue 13): parsing and the next slot after an
//! instant, correct across DST changes.
//!
//! The expression has five fields, `minute hour day-of-month month day-of-week`, each a
//! `*`, a number, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from `a` to the end), or a
//! comma list of those. Months take `JAN`…`DEC` and days of the week `SUN`…`SAT` (any
//! case); day-of-week `0` and `7` are both Sunday. The shorthands `@yearly`
//! (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly` stand for
//! their usual five fields. As in Vixie cron, when both day fields are restricted (neither
//! starts with `*`) a day matches if EITHER matches; otherwise both must.
//!
//! Slots are wall-clock times in the schedule's timezone. Across DST changes:
//! - a slot that does not exist (it falls in the spring-forward gap, e.g. 02:30 in
//!   Europe/Berlin on the last Sunday of March) fires once, at the first instant after the
//!   gap (03:00 local); several slots in one gap all map to that instant and so fire once;
//! - a slot that exists twice (it falls in the fall-back overlap, e.g. 02:30 on the last
//!   Sunday of October) fires once, at its first occurrence. A wall-clock time is one slot:
//!   an hourly schedule therefore has no run during the repeated hour.

use crate::validate::ValidationError;
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use std::fmt;

/// How far ahead [`Cron::next_after`] looks for a matching wall-clock time. A leap-day-only
/// schedule (`0 0 29 2 *`) fires at most eight years apart.
const SEARCH_YEARS: i32 = 10;

/// The longest DST gap searched past (a whole day was skipped in Pacific/Apia in 2011).
const MAX_GAP_MINUTES: i64 = 48 * 60;

/// Which part of a schedule a [`CronError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CronPart {
    Expression,
    Timezone,
}

/// A schedule that does not parse: which part, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError {
    pub part: CronPart,
    pub message: String,
}

impl CronError {
    fn expr(message: impl Into<String>) -> Self {
        Self {
            part: CronPart::Expression,
            message: message.into(),
        }
    }

    /// The error as a 422 field error, naming `cron_field` or `timezone_field`.
    pub fn into_validation(self, cron_field: &str, timezone_field: &str) -> ValidationError {
        let field = match self.part {
            CronPart::Expression => cron_field,
            CronPart::Timezone => timezone_field,
        };
        ValidationError::new(field, self.message)
    }
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CronError {}

/// A parsed cron schedule in a timezone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    source: String,
    tz: Tz,
    minutes: u64,
    hours: u64,
    /// Bits 1..=31.
    days: u64,
    /// Bits 1..=12.
    months: u64,
    /// Bits 0..=6, Sunday = 0.
    weekdays: u64,
    /// Both day fields restricted: a day matches if either does.
    days_or: bool,
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Where `names[0]` maps to.
    names_from: u32,
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    names_from: 0,
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    names_from: 0,
};
const DAY: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    names_from: 0,
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    names_from: 1,
};
const WEEKDAY: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    names_from: 0,
};

impl FieldSpec {
    fn value(&self, raw: &str) -> Result<u32, CronError> {
        let v = if let Some(i) = self.names.iter().position(|n| n.eq_ignore_ascii_case(raw)) {
            self.names_from + i as u32
        } else if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
            raw.parse::<u32>().map_err(|_| self.bad(raw))?
        } else {
            return Err(self.bad(raw));
        };
        if v < self.min || v > self.max {
            return Err(CronError::expr(format!(
                "{} field: {v} is out of range {}-{}",
                self.name, self.min, self.max
            )));
        }
        Ok(v)
    }

    fn bad(&self, raw: &str) -> CronError {
        let names = if self.names.is_empty() {
            String::new()
        } else {
            format!(" or a name like {}", self.names[0])
        };
        CronError::expr(format!(
            "{} field: '{raw}' is not a number{names}",
            self.name
        ))
    }

    /// Parses one field into a bit set.
    fn parse(&self, field: &str) -> Result<u64, CronError> {
        let mut bits = 0u64;
        for item in field.split(',') {
            if item.is_empty() {
                return Err(CronError::expr(format!(
                    "{} field: empty item in list '{field}'",
                    self.name
                )));
            }
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => {
                    let step = s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| {
                        CronError::expr(format!(
                            "{} field: step '{s}' must be a positive number",
                            self.name
                        ))
                    })?;
                    (r, Some(step))
                }
                None => (item, None),
            };
            let (lo, hi) = if range == "*" {
                (self.min, self.max)
            } else if let Some((a, b)) = range.split_once('-') {
                let (a, b) = (self.value(a)?, self.value(b)?);
                if a > b {
                    return Err(CronError::expr(format!(
                        "{} field: range {range} starts after it ends",
                        self.name
                    )));
                }
                (a, b)
            } else {
                let a = self.value(range)?;
                // `a/n` runs from a to the end of the field.
                (a, if step.is_some() { self.max } else { a })
            };
            let step = step.unwrap_or(1);
            let mut v = lo;
            while v <= hi {
                bits |= 1 << v;
                v += step;
            }
        }
        Ok(bits)
    }
}

fn has(bits: u64, v: u32) -> bool {
    bits & (1 << v) != 0
}

/// Days in `month` at most (February counts 29).
fn max_days(month: u32) -> u32 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Cron {
    /// Parses `expr` in the IANA timezone `timezone` (e.g. `Europe/Berlin`, or `UTC`).
    pub fn parse(expr: &str, timezone: &str) -> Result<Self, CronError> {
        let tz: Tz = timezone.trim().parse().map_err(|_| CronError {
            part: CronPart::Timezone,
            message: format!("'{timezone}' is not an IANA time zone such as Europe/Berlin, or UTC"),
        })?;
        let source = expr.trim();
        let expanded = match source.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s if s.starts_with('@') => {
                return Err(CronError::expr(format!(
                    "unknown shorthand '{source}' (use @hourly, @daily, @weekly, @monthly or @yearly)"
                )));
            }
            _ => source,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(CronError::expr(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            )));
        };
        let mut weekdays = WEEKDAY.parse(weekday)?;
        if has(weekdays, 7) {
            weekdays = (weekdays & !(1 << 7)) | 1;
        }
        let cron = Cron {
            source: source.to_string(),
            tz,
            minutes: MINUTE.parse(minute)?,
            hours: HOUR.parse(hour)?,
            days: DAY.parse(day)?,
            months: MONTH.parse(month)?,
            weekdays,
            days_or: !day.starts_with('*') && !weekday.starts_with('*'),
        };
        let day_exists =
            (1..=12).any(|m| has(cron.months, m) && (1..=max_days(m)).any(|d| has(cron.days, d)));
        if !cron.days_or && !day_exists {
            return Err(CronError::expr(format!(
                "day-of-month field: '{day}' never occurs in the months '{month}'"
            )));
        }
        Ok(cron)
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = has(self.days, date.day());
        let dow = has(self.weekdays, date.weekday().num_days_from_sunday());
        if self.days_or { dom || dow } else { dom && dow }
    }

    /// The first wall-clock minute at or after `from` (a whole minute) that matches.
    fn next_wall(&self, from: NaiveDateTime, limit: NaiveDate) -> Option<NaiveDateTime> {
        let mut t = from;
        let midnight = NaiveTime::MIN;
        loop {
            let date = t.date();
            if date > limit {
                return None;
            }
            if !has(self.months, date.month()) {
                let (y, m) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                t = NaiveDate::from_ymd_opt(y, m, 1)?.and_time(midnight);
                continue;
            }
            if !self.day_matches(date) {
                t = date.succ_opt()?.and_time(midnight);
                continue;
            }
            if !has(self.hours, t.hour()) {
                t = t.with_minute(0)? + Duration::hours(1);
                continue;
            }
            if !has(self.minutes, t.minute()) {
                t += Duration::minutes(1);
                continue;
            }
            return Some(t);
        }
    }

    /// The instant a wall-clock slot fires: its only instant, the first of two in a
    /// fall-back overlap, or the end of the gap it falls in.
    fn fire_instant(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
            LocalResult::None => (1..=MAX_GAP_MINUTES).find_map(|m| {
                match self.tz.from_local_datetime(&(wall + Duration::minutes(m))) {
                    LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                        Some(t.with_timezone(&Utc))
                    }
                    LocalResult::None => None,
                }
            }),
        }
    }

    /// The first slot strictly after `instant`; `None` if none comes within ten years.
    pub fn next_after(&self, instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = instant.with_timezone(&self.tz).naive_local();
        let limit = NaiveDate::from_ymd_opt(local.year() + SEARCH_YEARS, 12, 31)?;
        let mut wall = local.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        loop {
            let w = self.next_wall(wall, limit)?;
            let at = self.fire_instant(w)?;
            // A wall time's first occurrence may lie before `instant` when `instant` is in
            // the repeated hour: that slot already fired.
            if at > instant {
                return Some(at);
            }
            wall = w + Duration::minutes(1);
        }
    }

    /// The latest slot in `from..=upto`, if any (for "run once for the latest missed
    /// slot"). Looks back an hour, a day, a month, a year before scanning all of it, so a
    /// long outage of a frequent schedule costs little.
    pub fn latest_in(&self, from: DateTime<Utc>, upto: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if from > upto {
            return None;
        }
        let windows = [
            Some(Duration::hours(1)),
            Some(Duration::days(1)),
            Some(Duration::days(32)),
            Some(Duration::days(367)),
            None,
        ];
        for back in windows {
            let start = match back {
                Some(b) if upto - b > from => upto - b,
                _ => from,
            };
            let mut latest = None;
            let mut cur = start - Duration::nanoseconds(1);
            while let Some(next) = self.next_after(cur) {
                if next > upto {
                    break;
                }
                latest = Some(next);
                cur = next;
            }
            if latest.is_some() || start == from {
                return latest;
            }
        }
        None
    }
}

/// What a schedule does with slots missed while no server ran (several slots passed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missed {
    /// Run none of them; only the next future slot.
    Skip,
    /// One run, for the latest missed slot.
    RunOnce,
}

impl Missed {
    pub fn as_str(self) -> &'static str {
        match self {
            Missed::Skip => "skip",
            Missed::RunOnce => "run_once",
        }
    }
}

/// A schedule trigger: `{"type": "schedule", "cron": "*/5 * * * *", "timezone":
/// "Europe/Berlin", "missed": "skip" | "run_once"}` (`timezone` defaults to UTC,
/// `missed` to `skip`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleTrigger {
    pub cron: Cron,
    pub missed: Missed,
}

impl ScheduleTrigger {
    /// Parses the cron, timezone and missed-slot policy of a trigger object; errors name
    /// `{field}.cron`, `{field}.timezone` or `{field}.missed`. Other keys are left to the
    /// caller's shape check.
    pub fn parse(field: &str, trigger: &serde_json::Value) -> Result<Self, ValidationError> {
        let cron_field = format!("{field}.cron");
        let tz_field = format!("{field}.timezone");
        let expr = trigger
            .get("cron")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| {
                ValidationError::new(&cron_field, "is required: a 5-field cron expression")
            })?;
        let tz = match trigger.get("timezone") {
            None | Some(serde_json::Value::Null) => "UTC",
            Some(v) => v
                .as_str()
                .ok_or_else(|| ValidationError::new(&tz_field, "must be an IANA time zone name"))?,
        };
        let cron = Cron::parse(expr, tz).map_err(|e| e.into_validation(&cron_field, &tz_field))?;
        let missed = match trigger.get("missed") {
            None | Some(serde_json::Value::Null) => Missed::Skip,
            Some(v) => match v.as_str() {
                Some("skip") => Missed::Skip,
                Some("run_once") => Missed::RunOnce,
                _ => {
                    return Err(ValidationError::new(
                        format!("{field}.missed"),
                        "must be \"skip\" or \"run_once\"",
                    ));
                }
            },
        };
        Ok(Self { cron, missed })
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.source, self.tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn cron(expr: &str, tz: &str) -> Cron {
        Cron::parse(expr, tz).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// The next `n` slots after `from`, as RFC 3339 UTC strings.
    fn slots(c: &Cron, from: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut t = utc(from);
        for _ in 0..n {
            t = c.next_after(t).expect("a next slot");
            out.push(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
        out
    }

    fn err(expr: &str, tz: &str) -> CronError {
        Cron::parse(expr, tz).expect_err(expr)
    }

    #[test]
    fn every_five_minutes() {
        let c = cron("*/5 * * * *", "UTC");
        assert_eq!(
            slots(&c, "2026-01-01T10:02:10Z", 3),
            [
                "2026-01-01T10:05:00Z",
                "2026-01-01T10:10:00Z",
                "2026-01-01T10:15:00Z"
            ]
        );
        // Strictly after: a slot instant itself is not returned again.
        assert_eq!(
            c.next_after(utc("2026-01-01T10:05:00Z")),
            Some(utc("2026-01-01T10:10:00Z"))
        );
        assert_eq!(
            c.next_after(utc("2026-01-01T10:04:59.999Z")),
            Some(utc("2026-01-01T10:05:00Z"))
        );
    }

    #[test]
    fn lists_ranges_steps_names() {
        let c = cron("15,45 9-17/4 * JAN-mar MON-FRI", "UTC");
        // 2026-01-02 is a Friday; hours 9, 13, 17.
        assert_eq!(
            slots(&c, "2026-01-02T09:20:00Z", 5),
            [
                "2026-01-02T09:45:00Z",
                "2026-01-02T13:15:00Z",
                "2026-01-02T13:45:00Z",
                "2026-01-02T17:15:00Z",
                "2026-01-02T17:45:00Z",
            ]
        );
        // Then Monday the 5th (weekend skipped).
        assert_eq!(
            slots(&c, "2026-01-02T17:45:00Z", 1),
            ["2026-01-05T09:15:00Z"]
        );
        // After March, the next January.
        assert_eq!(
            slots(&c, "2026-03-31T17:45:00Z", 1),
            ["2027-01-01T09:15:00Z"]
        );
        // `a/n`: from a to the end.
        let c = cron("50/5 * * * *", "UTC");
        assert_eq!(
            slots(&c, "2026-01-01T10:00:00Z", 3),
            [
                "2026-01-01T10:50:00Z",
                "2026-01-01T10:55:00Z",
                "2026-01-01T11:50:00Z"
            ]
        );
    }

    #[test]
    fn weekday_seven_is_sunday_and_day_fields_or() {
        let c = cron("0 0 * * 7", "UTC");
        // 2026-01-04 is a Sunday.
        assert_eq!(
            slots(&c, "2026-01-01T00:00:00Z", 1),
            ["2026-01-04T00:00:00Z"]
        );
        // Both restricted: the 13th OR a Friday (Vixie semantics).
        let c = cron("0 0 13 * FRI", "UTC");
        assert_eq!(
            slots(&c, "2026-01-08T00:00:00Z", 3),
            [
                "2026-01-09T00:00:00Z",
                "2026-01-13T00:00:00Z",
                "2026-01-16T00:00:00Z"
            ]
        );
        // Day-of-month starts with `*`: both must match (odd days that are Fridays).
        let c = cron("0 0 */2 * FRI", "UTC");
        assert_eq!(
            slots(&c, "2026-01-01T00:00:00Z", 2),
            ["2026-01-09T00:00:00Z", "2026-01-23T00:00:00Z"]
        );
    }

    #[test]
    fn shorthands() {
        let at = "2026-05-13T10:30:00Z"; // a Wednesday
        for (s, want) in [
            ("@hourly", "2026-05-13T11:00:00Z"),
            ("@daily", "2026-05-14T00:00:00Z"),
            ("@midnight", "2026-05-14T00:00:00Z"),
            ("@weekly", "2026-05-17T00:00:00Z"),
            ("@monthly", "2026-06-01T00:00:00Z"),
            ("@yearly", "2027-01-01T00:00:00Z"),
            ("@ANNUALLY", "2027-01-01T00:00:00Z"),
        ] {
            assert_eq!(slots(&cron(s, "UTC"), at, 1), [want], "{s}");
        }
    }

    #[test]
    fn leap_day_and_month_ends() {
        let c = cron("0 12 29 2 *", "UTC");
        assert_eq!(
            slots(&c, "2026-01-01T00:00:00Z", 2),
            ["2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"]
        );
        let c = cron("0 0 31 * *", "UTC");
        assert_eq!(
            slots(&c, "2026-01-31T00:00:00Z", 2),
            ["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"]
        );
    }

    #[test]
    fn timezone_offsets_apply() {
        // 09:00 in Berlin (CET, +1) is 08:00 UTC in January; in Tokyo (+9) 00:00 UTC.
        let c = cron("0 9 * * *", "Europe/Berlin");
        assert_eq!(
            slots(&c, "2026-01-10T00:00:00Z", 1),
            ["2026-01-10T08:00:00Z"]
        );
        let c = cron("0 9 * * *", "Asia/Tokyo");
        assert_eq!(
            slots(&c, "2026-01-10T00:00:00Z", 1),
            ["2026-01-11T00:00:00Z"]
        );
        // Summer in Berlin (CEST, +2).
        let c = cron("0 9 * * *", "Europe/Berlin");
        assert_eq!(
            slots(&c, "2026-07-10T00:00:00Z", 1),
            ["2026-07-10T07:00:00Z"]
        );
    }

    /// 2026-03-29 is the last Sunday of March: in Berlin 02:00 CET jumps to 03:00 CEST
    /// (01:00 UTC), so 02:30 does not exist that day.
    #[test]
    fn spring_forward_gap_fires_once_after_the_gap() {
        let c = cron("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            slots(&c, "2026-03-28T12:00:00Z", 3),
            [
                "2026-03-29T01:00:00Z", // 03:00 CEST: the first instant after the gap
                "2026-03-30T00:30:00Z", // 02:30 CEST
                "2026-03-31T00:30:00Z",
            ]
        );
        // Every slot in the gap maps to 03:00, as does 03:00 itself: one firing.
        let c = cron("*/15 2-3 * * *", "Europe/Berlin");
        assert_eq!(
            slots(&c, "2026-03-29T00:50:00Z", 4),
            [
                "2026-03-29T01:00:00Z", // 03:00 CEST (02:00–02:45 and 03:00)
                "2026-03-29T01:15:00Z", // 03:15 CEST
                "2026-03-29T01:30:00Z",
                "2026-03-29T01:45:00Z",
            ]
        );
        // Hourly: 01:00 CET, then 03:00 CEST (the 02:00 slot is merged into it).
        let c = cron("0 * * * *", "Europe/Berlin");
        assert_eq!(
            slots(&c, "2026-03-28T23:30:00Z", 3),
            [
                "2026-03-29T00:00:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-29T02:00:00Z"
            ]
        );
        // US gap too (2026-03-08, 02:00 EST → 03:00 EDT = 07:00 UTC).
        let c = cron("30 2 * * *", "America/New_York");
        assert_eq!(
            slots(&c, "2026-03-08T00:00:00Z", 1),
            ["2026-03-08T07:00:00Z"]
        );
    }

    /// 2026-10-25 is the last Sunday of October: in Berlin 03:00 CEST falls back to 02:00
    /// CET (01:00 UTC), so 02:30 happens at 00:30 UTC and again at 01:30 UTC.
    #[test]
    fn fall_back_overlap_fires_once_at_the_first_occurrence() {
        let c = cron("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            slots(&c, "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
        );
        // Asked from inside the repeated hour (after the first 02:30, before the second):
        // the second occurrence is not a new slot.
        assert_eq!(
            slots(&c, "2026-10-25T01:10:00Z", 1),
            ["2026-10-26T01:30:00Z"]
        );
        assert_eq!(
            slots(&c, "2026-10-25T00:30:00Z", 1),
            ["2026-10-26T01:30:00Z"]
        );
        // Every ten minutes: the repeated wall-clock times do not fire again.
        let c = cron("*/10 * * * *", "Europe/Berlin");
        assert_eq!(
            slots(&c, "2026-10-25T00:45:00Z", 3),
            [
                "2026-10-25T00:50:00Z", // 02:50 CEST
                "2026-10-25T02:00:00Z", // 03:00 CET: 02:00–02:50 CET were already run
                "2026-10-25T02:10:00Z",
            ]
        );
    }

    #[test]
    fn latest_in_finds_the_last_missed_slot() {
        let c = cron("*/5 * * * *", "UTC");
        assert_eq!(
            c.latest_in(utc("2026-01-01T10:05:00Z"), utc("2026-01-03T07:03:00Z")),
            Some(utc("2026-01-03T07:00:00Z"))
        );
        assert_eq!(
            c.latest_in(utc("2026-01-01T10:05:00Z"), utc("2026-01-01T10:05:00Z")),
            Some(utc("2026-01-01T10:05:00Z"))
        );
        assert_eq!(
            c.latest_in(utc("2026-01-01T10:06:00Z"), utc("2026-01-01T10:09:00Z")),
            None
        );
        // Sparse: monthly, over five years.
        let c = cron("0 0 1 * *", "UTC");
        assert_eq!(
            c.latest_in(utc("2021-01-01T00:00:00Z"), utc("2026-05-20T00:00:00Z")),
            Some(utc("2026-05-01T00:00:00Z"))
        );
        // A year-long outage of an every-minute schedule is cheap.
        let c = cron("* * * * *", "UTC");
        assert_eq!(
            c.latest_in(utc("2025-01-01T00:00:00Z"), utc("2026-01-01T00:00:30Z")),
            Some(utc("2026-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn validation_errors_name_the_problem() {
        let e = err("* * * *", "UTC");
        assert_eq!(e.part, CronPart::Expression);
        assert!(e.message.contains("expected 5 fields"), "{e}");
        assert!(e.message.contains("found 4"), "{e}");
        assert!(
            err("60 * * * *", "UTC")
                .message
                .contains("minute field: 60 is out of range 0-59")
        );
        assert!(err("0 24 * * *", "UTC").message.contains("hour field: 24"));
        assert!(
            err("0 0 0 * *", "UTC")
                .message
                .contains("day-of-month field: 0")
        );
        assert!(err("0 0 * 13 *", "UTC").message.contains("month field: 13"));
        assert!(
            err("0 0 * * 8", "UTC")
                .message
                .contains("day-of-week field: 8")
        );
        assert!(
            err("0 0 * FOO *", "UTC")
                .message
                .contains("month field: 'FOO'")
        );
        assert!(err("*/0 * * * *", "UTC").message.contains("step '0'"));
        assert!(err("*/x * * * *", "UTC").message.contains("step 'x'"));
        assert!(
            err("0 17-9 * * *", "UTC")
                .message
                .contains("range 17-9 starts after it ends")
        );
        assert!(err("1,,2 * * * *", "UTC").message.contains("empty item"));
        assert!(err("-1 * * * *", "UTC").message.contains("minute field"));
        assert!(err("@reboot", "UTC").message.contains("unknown shorthand"));
        assert!(err("0 0 30 2 *", "UTC").message.contains("never occurs"));
        assert!(
            err("0 0 31 APR,JUN *", "UTC")
                .message
                .contains("never occurs")
        );
        // With a weekday as well, the 30th of February is "or Mondays": valid.
        assert!(Cron::parse("0 0 30 2 MON", "UTC").is_ok());
        let e = err("0 0 * * *", "Mars/Olympus");
        assert_eq!(e.part, CronPart::Timezone);
        assert!(e.message.contains("Mars/Olympus"), "{e}");
        let v = err("0 0 * * *", "Nowhere").into_validation("trigger.cron", "trigger.timezone");
        assert_eq!(v.field, "trigger.timezone");
        let v = err("0 0 *", "UTC").into_validation("trigger.cron", "trigger.timezone");
        assert_eq!(v.field, "trigger.cron");
    }
    #[test]
    fn schedule_triggers_parse_with_defaults_and_named_errors() {
        let t = ScheduleTrigger::parse(
            "trigger",
            &serde_json::json!({"type": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Berlin", "missed": "run_once"}),
        )
        .expect("valid");
        assert_eq!(t.missed, Missed::RunOnce);
        assert_eq!(t.cron.timezone(), chrono_tz::Europe::Berlin);
        let t = ScheduleTrigger::parse("trigger", &serde_json::json!({"cron": "@daily"}))
            .expect("defaults");
        assert_eq!(
            (t.missed, t.cron.timezone()),
            (Missed::Skip, chrono_tz::UTC)
        );
        for (body, field) in [
            (serde_json::json!({}), "trigger.cron"),
            (serde_json::json!({"cron": 5}), "trigger.cron"),
            (serde_json::json!({"cron": "61 * * * *"}), "trigger.cron"),
            (
                serde_json::json!({"cron": "* * * * *", "timezone": "Europe/Nowhere"}),
                "trigger.timezone",
            ),
            (
                serde_json::json!({"cron": "* * * * *", "timezone": 1}),
                "trigger.timezone",
            ),
            (
                serde_json::json!({"cron": "* * * * *", "missed": "always"}),
                "trigger.missed",
            ),
        ] {
            let e = ScheduleTrigger::parse("trigger", &body).expect_err(&body.to_string());
            assert_eq!(e.field, field, "{body}: {}", e.message);
        }
    }
}
