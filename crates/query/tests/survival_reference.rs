//! The survival statistics against reference values computed by statsmodels
//! (`scripts/survival-reference.py` wrote `survival_reference.json`).

use keylens_query::survival::{kaplan_meier, logrank, Obs};
use serde_json::Value;

fn reference() -> Value {
    serde_json::from_str(include_str!("survival_reference.json")).unwrap()
}

fn obs(c: &Value) -> Vec<Obs> {
    let times = c["times"].as_array().unwrap();
    let events = c["events"].as_array().unwrap();
    times
        .iter()
        .zip(events)
        .map(|(t, e)| Obs {
            t: t.as_f64().unwrap(),
            event: e.as_i64().unwrap() == 1,
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn kaplan_meier_matches_statsmodels() {
    let r = reference();
    for c in r["curves"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let curve = kaplan_meier(&obs(c), 1.96);
        let want = c["steps"].as_array().unwrap();
        assert_eq!(curve.steps.len(), want.len(), "{name}: steps");
        for (got, w) in curve.steps.iter().zip(want) {
            assert!(close(got.t_days, w["t"].as_f64().unwrap()), "{name} t");
            assert_eq!(
                got.at_risk,
                w["at_risk"].as_u64().unwrap(),
                "{name} at risk at {}",
                got.t_days
            );
            assert_eq!(
                got.events,
                w["events"].as_u64().unwrap(),
                "{name} events at {}",
                got.t_days
            );
            assert!(
                close(got.survival, w["survival"].as_f64().unwrap()),
                "{name} S({}) {} vs {}",
                got.t_days,
                got.survival,
                w["survival"]
            );
            match (got.se, w["se"].as_f64()) {
                (Some(a), Some(b)) => assert!(close(a, b), "{name} se({}) {a} vs {b}", got.t_days),
                (a, b) => assert_eq!(a, b, "{name} se({})", got.t_days),
            }
            if let Some(se) = got.se {
                assert!(close(
                    got.ci_low.unwrap(),
                    (got.survival - 1.96 * se).max(0.0)
                ));
            }
        }
        assert_eq!(curve.median_days, c["median"].as_f64(), "{name} median");
    }
}

#[test]
fn logrank_matches_statsmodels() {
    let r = reference();
    let curve = |name: &str| {
        r["curves"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    for t in r["logrank"].as_array().unwrap() {
        let (a, b) = (
            obs(&curve(t["a"].as_str().unwrap())),
            obs(&curve(t["b"].as_str().unwrap())),
        );
        let (chi2, p) = logrank(&a, &b).unwrap();
        assert!(
            close(chi2, t["chi2"].as_f64().unwrap()),
            "chi2 {chi2} vs {}",
            t["chi2"]
        );
        assert!(close(p, t["p"].as_f64().unwrap()), "p {p} vs {}", t["p"]);
    }
}
