//! Kaplan-Meier survival with right-censoring, Greenwood standard errors, and the log-rank test
//! of two groups. Reference values from an established implementation are checked in
//! `tests/survival_reference.rs` (regenerate with `scripts/survival-reference.py`).

use serde::Serialize;

/// One subject: time in days and whether the event (churn) was seen (`false`: censored then).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obs {
    pub t: f64,
    pub event: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub t_days: f64,
    /// Subjects with time >= t (those censored at t are still at risk: events come first).
    pub at_risk: u64,
    pub events: u64,
    /// Subjects censored at exactly t.
    pub censored: u64,
    pub survival: f64,
    /// Greenwood: S(t) * sqrt(sum d / (n (n - d))); undefined (`None`) once every subject at
    /// risk has had the event (n = d).
    pub se: Option<f64>,
    /// S -+ z se, clipped to [0, 1]; `None` where `se` is.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    pub n: u64,
    pub events: u64,
    /// First t with S(t) <= 0.5; `None` if the curve never gets there.
    pub median_days: Option<f64>,
    /// One step per distinct event time.
    pub steps: Vec<Step>,
}

/// Distinct times with (events, censored) at each, ascending.
fn table(obs: &[Obs]) -> Vec<(f64, u64, u64)> {
    let mut sorted: Vec<Obs> = obs.iter().copied().filter(|o| o.t.is_finite()).collect();
    sorted.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut out: Vec<(f64, u64, u64)> = Vec::new();
    for o in sorted {
        match out.last_mut() {
            Some(last) if last.0 == o.t => {
                if o.event {
                    last.1 += 1
                } else {
                    last.2 += 1
                }
            }
            _ => out.push((o.t, o.event as u64, (!o.event) as u64)),
        }
    }
    out
}

pub fn kaplan_meier(obs: &[Obs], z: f64) -> Curve {
    let rows = table(obs);
    let n = rows.iter().map(|r| r.1 + r.2).sum::<u64>();
    let mut at_risk = n;
    let (mut s, mut greenwood) = (1.0f64, 0.0f64);
    let mut steps = Vec::new();
    let mut median = None;
    for (t, d, c) in rows {
        if d > 0 {
            s *= 1.0 - d as f64 / at_risk as f64;
            let se = if at_risk > d {
                greenwood += d as f64 / (at_risk as f64 * (at_risk - d) as f64);
                Some(s * greenwood.sqrt())
            } else {
                None
            };
            steps.push(Step {
                t_days: t,
                at_risk,
                events: d,
                censored: c,
                survival: s,
                se,
                ci_low: se.map(|se| (s - z * se).clamp(0.0, 1.0)),
                ci_high: se.map(|se| (s + z * se).clamp(0.0, 1.0)),
            });
            if median.is_none() && s <= 0.5 {
                median = Some(t);
            }
        }
        at_risk -= d + c;
    }
    Curve {
        n,
        events: steps.iter().map(|s| s.events).sum(),
        median_days: median,
        steps,
    }
}

/// The log-rank test of two groups: (chi-square with 1 degree of freedom, p-value). `None`
/// when there is no event or no variance.
pub fn logrank(a: &[Obs], b: &[Obs]) -> Option<(f64, f64)> {
    let mut all: Vec<(Obs, bool)> = a
        .iter()
        .map(|o| (*o, true))
        .chain(b.iter().map(|o| (*o, false)))
        .collect();
    all.sort_by(|x, y| x.0.t.total_cmp(&y.0.t));
    let (mut n, mut n1) = (all.len() as f64, a.len() as f64);
    let (mut observed, mut expected, mut variance) = (0.0, 0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let t = all[i].0.t;
        let (mut d, mut d1, mut leave, mut leave1) = (0.0, 0.0, 0.0, 0.0);
        while i < all.len() && all[i].0.t == t {
            let (o, in_a) = all[i];
            if o.event {
                d += 1.0;
                if in_a {
                    d1 += 1.0;
                }
            }
            leave += 1.0;
            if in_a {
                leave1 += 1.0;
            }
            i += 1;
        }
        if d > 0.0 {
            observed += d1;
            expected += d * n1 / n;
            if n > 1.0 {
                variance += d * (n1 / n) * (1.0 - n1 / n) * (n - d) / (n - 1.0);
            }
        }
        n -= leave;
        n1 -= leave1;
    }
    if variance <= 0.0 {
        return None;
    }
    let chi2 = (observed - expected).powi(2) / variance;
    Some((chi2, chi2_1_sf(chi2)))
}

/// P(X > x) for a chi-square with one degree of freedom.
pub fn chi2_1_sf(x: f64) -> f64 {
    libm::erfc((x / 2.0).sqrt())
}

/// Two-sided p-value of a standard normal statistic.
pub fn normal_two_sided(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(t: f64, event: bool) -> Obs {
        Obs { t, event }
    }

    #[test]
    fn textbook_curve_by_hand() {
        // Times 1, 2, 2, 3+, 4: S(1) = 4/5; S(2) = 4/5 * 2/4 = 0.4; 3 censored; S(4) = 0.
        let c = kaplan_meier(
            &[
                o(1.0, true),
                o(2.0, true),
                o(2.0, true),
                o(3.0, false),
                o(4.0, true),
            ],
            1.96,
        );
        let s: Vec<(f64, u64, u64, f64)> = c
            .steps
            .iter()
            .map(|s| (s.t_days, s.at_risk, s.events, s.survival))
            .collect();
        assert_eq!(
            s,
            vec![(1.0, 5, 1, 0.8), (2.0, 4, 2, 0.4), (4.0, 1, 1, 0.0)]
        );
        assert_eq!(c.median_days, Some(2.0));
        // Greenwood at t=2: 0.4 * sqrt(1/(5*4) + 2/(4*2)) = 0.4 * sqrt(0.3).
        assert!((c.steps[1].se.unwrap() - 0.4 * 0.3f64.sqrt()).abs() < 1e-12);
        assert_eq!(
            c.steps[2].se, None,
            "undefined once everyone at risk had the event"
        );
        assert_eq!((c.n, c.events), (5, 4));
    }

    #[test]
    fn events_come_before_censorings_at_the_same_time() {
        let c = kaplan_meier(&[o(2.0, false), o(2.0, true), o(5.0, false)], 1.96);
        assert_eq!(c.steps[0].at_risk, 3);
        assert_eq!(c.steps[0].censored, 1);
        assert!((c.steps[0].survival - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(c.median_days, None);
    }

    #[test]
    fn normal_and_chi_square_tails() {
        assert!((normal_two_sided(1.959964) - 0.05).abs() < 1e-6);
        assert!((chi2_1_sf(3.841459) - 0.05).abs() < 1e-6);
    }
}
