//! ISO 8601 durations (`P30D`, `P2W`, `P1M`, `P1Y6M`, `PT12H`) and the calendar arithmetic the
//! contract prescribes: years and months first, clamped to the month's last day (Jan 31 + `P1M` =
//! Feb 28 or 29), then weeks and days, then the time part; the time of day is kept.

use crate::time::{to_datetime, MICROS_PER_DAY, MICROS_PER_SECOND};
use chrono::{Datelike, Months};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IsoDuration {
    pub months: u32,
    pub days: u32,
    pub seconds: u64,
}

impl IsoDuration {
    pub const fn days(days: u32) -> Self {
        IsoDuration {
            months: 0,
            days,
            seconds: 0,
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "'{s}' is not an ISO 8601 duration; write e.g. P30D, P2W, P1M, P1Y, P1Y6M or PT12H"
            )
        };
        let rest = s.strip_prefix('P').ok_or_else(bad)?;
        if rest.is_empty() {
            return Err(bad());
        }
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) if !t.is_empty() => (d, Some(t)),
            Some(_) => return Err(bad()),
            None => (rest, None),
        };
        let mut d = IsoDuration::default();
        let mut order = 0;
        for (n, unit) in parts(date).ok_or_else(bad)? {
            let rank = match unit {
                'Y' => 1,
                'M' => 2,
                'W' => 3,
                'D' => 4,
                _ => return Err(bad()),
            };
            if rank <= order {
                return Err(bad());
            }
            order = rank;
            let n32 = u32::try_from(n).map_err(|_| bad())?;
            match unit {
                'Y' => {
                    d.months = d
                        .months
                        .checked_add(n32.checked_mul(12).ok_or_else(bad)?)
                        .ok_or_else(bad)?
                }
                'M' => d.months = d.months.checked_add(n32).ok_or_else(bad)?,
                'W' => {
                    d.days = d
                        .days
                        .checked_add(n32.checked_mul(7).ok_or_else(bad)?)
                        .ok_or_else(bad)?
                }
                _ => d.days = d.days.checked_add(n32).ok_or_else(bad)?,
            }
        }
        if let Some(time) = time {
            let mut order = 0;
            for (n, unit) in parts(time).ok_or_else(bad)? {
                let (rank, mult) = match unit {
                    'H' => (1, 3600),
                    'M' => (2, 60),
                    'S' => (3, 1),
                    _ => return Err(bad()),
                };
                if rank <= order {
                    return Err(bad());
                }
                order = rank;
                d.seconds = d
                    .seconds
                    .checked_add(n.checked_mul(mult).ok_or_else(bad)?)
                    .ok_or_else(bad)?;
            }
        }
        // Bounded so that every duration can be added to any instant without overflow.
        if d.months > 12 * 1000 || d.days > 366 * 1000 || d.seconds > 366 * 1000 * 86_400 {
            return Err(format!("'{s}' is longer than 1000 years"));
        }
        Ok(d)
    }

    pub fn is_zero(&self) -> bool {
        self.months == 0 && self.days == 0 && self.seconds == 0
    }

    /// `t + self` with the contract's calendar rules.
    pub fn add_to(&self, t: i64) -> i64 {
        let mut t = t;
        if self.months > 0 {
            let dt = to_datetime(t);
            // chrono's checked_add_months clamps to the last day of the month, as the contract says.
            t = dt
                .checked_add_months(Months::new(self.months))
                .map(|x| x.timestamp_micros())
                .unwrap_or(i64::MAX / 2);
        }
        t.saturating_add((self.days as i64).saturating_mul(MICROS_PER_DAY))
            .saturating_add((self.seconds as i64).saturating_mul(MICROS_PER_SECOND))
    }

    /// Length in microseconds when there is no calendar part (months); `None` otherwise.
    pub fn fixed_micros(&self) -> Option<i64> {
        (self.months == 0).then(|| {
            (self.days as i64)
                .saturating_mul(MICROS_PER_DAY)
                .saturating_add((self.seconds as i64).saturating_mul(MICROS_PER_SECOND))
        })
    }
}

fn parts(s: &str) -> Option<Vec<(u64, char)>> {
    let mut out = Vec::new();
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
        } else {
            if num.is_empty() {
                return None;
            }
            out.push((num.parse().ok()?, c));
            num.clear();
        }
    }
    num.is_empty().then_some(out)
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return write!(f, "P0D");
        }
        write!(f, "P")?;
        let (y, m) = (self.months / 12, self.months % 12);
        if y > 0 {
            write!(f, "{y}Y")?;
        }
        if m > 0 {
            write!(f, "{m}M")?;
        }
        if self.days > 0 {
            write!(f, "{}D", self.days)?;
        }
        if self.seconds > 0 {
            let (h, rest) = (self.seconds / 3600, self.seconds % 3600);
            let (mi, s) = (rest / 60, rest % 60);
            write!(f, "T")?;
            if h > 0 {
                write!(f, "{h}H")?;
            }
            if mi > 0 {
                write!(f, "{mi}M")?;
            }
            if s > 0 {
                write!(f, "{s}S")?;
            }
        }
        Ok(())
    }
}

/// Days in the calendar month that contains `t` (for per-day rates of month buckets).
pub fn days_in_month_of(t: i64) -> u32 {
    let d = to_datetime(t);
    let next = d
        .date_naive()
        .with_day(1)
        .and_then(|x| x.checked_add_months(Months::new(1)));
    match next {
        Some(n) => (n - d.date_naive().with_day(1).expect("day 1 exists")).num_days() as u32,
        None => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    fn t(s: &str) -> i64 {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn parses_the_contract_examples() {
        assert_eq!(IsoDuration::parse("P30D").unwrap(), IsoDuration::days(30));
        assert_eq!(IsoDuration::parse("P2W").unwrap(), IsoDuration::days(14));
        assert_eq!(IsoDuration::parse("P1M").unwrap().months, 1);
        assert_eq!(IsoDuration::parse("P1Y").unwrap().months, 12);
        assert_eq!(IsoDuration::parse("P1Y6M").unwrap().months, 18);
        assert_eq!(IsoDuration::parse("PT12H").unwrap().seconds, 43_200);
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "P", "30D", "P1X", "PT", "P1D1Y", "P-1D", "P1.5D", "p1d"] {
            assert!(IsoDuration::parse(s).is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn huge_time_part_is_refused_not_a_crash() {
        // Found by the query_params fuzz target: 22222222223 hours overflowed the microseconds.
        assert!(IsoDuration::parse("PT22222222223H").is_err());
        let longest = IsoDuration::parse("P1000Y366000DT31622400000S").unwrap();
        assert!(longest.add_to(t("2026-01-01T00:00:00Z")) > 0);
        assert!(longest.fixed_micros().is_none());
        assert!(
            IsoDuration::parse("P366000DT31622400000S")
                .unwrap()
                .fixed_micros()
                .unwrap()
                > 0
        );
    }

    #[test]
    fn month_end_clamps() {
        let m = IsoDuration::parse("P1M").unwrap();
        assert_eq!(
            m.add_to(t("2026-01-31T10:00:00Z")),
            t("2026-02-28T10:00:00Z")
        );
        assert_eq!(
            m.add_to(t("2028-01-31T10:00:00Z")),
            t("2028-02-29T10:00:00Z")
        );
    }

    #[test]
    fn months_before_days() {
        // Jan 31 + 1 month = Feb 28, then + 1 day = Mar 1 (days after months).
        let d = IsoDuration::parse("P1M1D").unwrap();
        assert_eq!(
            d.add_to(t("2026-01-31T00:00:00Z")),
            t("2026-03-01T00:00:00Z")
        );
    }

    #[test]
    fn display_round_trips() {
        for s in ["P30D", "P1M", "P1Y6M", "P1Y", "PT12H", "P1DT1H30M"] {
            assert_eq!(IsoDuration::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(IsoDuration::parse("P2W").unwrap().to_string(), "P14D");
    }

    #[test]
    fn month_lengths() {
        assert_eq!(days_in_month_of(t("2026-02-10T00:00:00Z")), 28);
        assert_eq!(days_in_month_of(t("2028-02-10T00:00:00Z")), 29);
        assert_eq!(days_in_month_of(t("2026-12-31T23:00:00Z")), 31);
    }
}
