-- cohort_retention by month from {COHORTS_FROM}: each creation-month cohort's size, and at each
-- later month start up to as_of, how many of it are active (not churned at that instant).
cohorts AS (
  SELECT epoch_us(date_trunc('month', make_timestamp(c0))) AS cs, count(*) AS size
  FROM cr WHERE c0 >= {COHORTS_FROM} AND c0 < {AS_OF} GROUP BY 1),
offsets AS (
  SELECT cs, size, k, epoch_us(make_timestamp(cs) + to_months(CAST(k + 1 AS INTEGER))) AS t
  FROM cohorts, range(0, 1200) r(k)
  WHERE epoch_us(make_timestamp(cs) + to_months(CAST(k + 1 AS INTEGER))) <= {AS_OF}),
churned AS (
  SELECT o.cs, o.k, count(*) AS n
  FROM offsets o
  JOIN cr ON epoch_us(date_trunc('month', make_timestamp(cr.c0))) = o.cs
  JOIN churns c ON c.license_id = cr.license_id
  WHERE c.at <= o.t AND (c.until IS NULL OR o.t < c.until)
  GROUP BY o.cs, o.k)
SELECT o.cs, o.k, o.size, o.size - coalesce(churned.n, 0)
FROM offsets o LEFT JOIN churned USING (cs, k)
ORDER BY 1, 2
