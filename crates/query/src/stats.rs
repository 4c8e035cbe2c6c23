//! The statistics computed in Rust over aggregated rows.

/// z for a two-sided 95% interval, as the contract fixes it.
pub const Z95: f64 = 1.959964;

/// Wilson score interval for `k` successes out of `n`; `None` for `n == 0`.
pub fn wilson(k: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n, z) = (k as f64, n as f64, Z95);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = p + z * z / (2.0 * n);
    let margin = z * ((p * (1.0 - p) + z * z / (4.0 * n)) / n).sqrt();
    Some((
        ((centre - margin) / denom).max(0.0),
        ((centre + margin) / denom).min(1.0),
    ))
}

/// `k / n`, or `None` over an empty denominator.
pub fn rate(k: f64, n: f64) -> Option<f64> {
    (n > 0.0).then(|| k / n)
}

/// Exact percentile with linear interpolation between closest ranks (R type 7) of sorted data.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// [`percentile_sorted`] of the data given as `(value, count)` pairs sorted by value: the same
/// number as over the data written out, without writing it out.
pub fn percentile_counted(sorted: &[(f64, u64)], p: f64) -> Option<f64> {
    let n: u64 = sorted.iter().map(|(_, c)| c).sum();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * p;
    let (lo, hi) = (h.floor() as u64, h.ceil() as u64);
    // The value at 0-based rank k: the first pair whose running count passes k.
    let at = |k: u64| {
        let mut seen = 0;
        for (v, c) in sorted {
            seen += c;
            if seen > k {
                return *v;
            }
        }
        sorted[sorted.len() - 1].0
    };
    let (a, b) = (at(lo), at(hi));
    Some(a + (h - lo as f64) * (b - a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_reference_values() {
        // Reference: statsmodels proportion_confint(8, 10, method="wilson") = (0.4901624, 0.9433178).
        let (lo, hi) = wilson(8, 10).unwrap();
        assert!((lo - 0.4901624).abs() < 1e-6, "{lo}");
        assert!((hi - 0.9433178).abs() < 1e-6, "{hi}");
        let (lo, hi) = wilson(0, 5).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.4344825).abs() < 1e-6, "{hi}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn type7_percentiles() {
        let v: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(percentile_sorted(&v, 0.5), Some(4.5));
        assert!((percentile_sorted(&v, 0.9).unwrap() - 8.1).abs() < 1e-12);
        assert_eq!(percentile_sorted(&[3.0], 0.99), Some(3.0));
        assert_eq!(percentile_sorted(&[], 0.5), None);
    }

    #[test]
    fn counted_percentiles_equal_the_written_out_ones() {
        let counted = [(1.0, 3), (2.5, 1), (7.0, 4), (9.0, 2)];
        let written: Vec<f64> = counted
            .iter()
            .flat_map(|&(v, c)| std::iter::repeat_n(v, c as usize))
            .collect();
        for p in [0.0, 0.1, 0.25, 0.5, 0.95, 0.99, 1.0] {
            assert_eq!(
                percentile_counted(&counted, p),
                percentile_sorted(&written, p),
                "p = {p}"
            );
        }
        assert_eq!(percentile_counted(&[], 0.5), None);
        assert_eq!(percentile_counted(&[(4.0, 0)], 0.5), None);
    }

    proptest::proptest! {
        #[test]
        fn counted_percentiles_equal_the_written_out_ones_on_any_data(
            mut counted in proptest::collection::vec((-1e6f64..1e6, 1u64..5), 1..40),
            p in 0.0f64..=1.0,
        ) {
            counted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let written: Vec<f64> = counted
                .iter()
                .flat_map(|&(v, c)| std::iter::repeat_n(v, c as usize))
                .collect();
            proptest::prop_assert_eq!(percentile_counted(&counted, p), percentile_sorted(&written, p));
        }
    }
}
