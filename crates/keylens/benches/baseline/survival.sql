-- survival by model from {SURVIVAL_FROM}: Kaplan-Meier over the licenses created since, time to
-- first churn (event) or to as_of (censored), in days; the median is the first time the
-- survival falls to 0.5 or below.
obs AS (
  SELECT cr.model, CAST(coalesce(fc.first_churn, {AS_OF}) - cr.c0 AS DOUBLE) / {DAY} AS t,
         fc.first_churn IS NOT NULL AS ev
  FROM cr LEFT JOIN (SELECT c.license_id, min(c.at) AS first_churn FROM churns c GROUP BY 1) fc USING (license_id)
  WHERE cr.c0 >= {SURVIVAL_FROM} AND cr.c0 < {AS_OF}),
times AS (SELECT model, t, sum(CAST(ev AS INTEGER)) AS d, count(*) AS m FROM obs GROUP BY model, t),
risk AS (SELECT model, t, d, sum(m) OVER (PARTITION BY model ORDER BY t DESC) AS at_risk FROM times),
km AS (
  SELECT model, t, d,
         product(CASE WHEN d > 0 THEN 1 - d / at_risk ELSE 1 END) OVER (PARTITION BY model ORDER BY t) AS s
  FROM risk)
SELECT model, (SELECT count(*) FROM obs o WHERE o.model IS NOT DISTINCT FROM km.model), sum(d),
       min(t) FILTER (WHERE d > 0 AND s <= 0.5)
FROM km GROUP BY model
