-- churn by week: recognised churns (term ends not renewed in time, revocations of active
-- licenses) per week, and the licenses active at each week's start.
churns AS (
  SELECT t.license_id, t.end_at AS at, 1 AS voluntary, t.next_set_at AS until
  FROM terms t LEFT JOIN churn_rv USING (license_id)
  WHERE t.end_at + {GRACE} <= {AS_OF} AND NOT (churn_rv.rc IS NOT NULL AND churn_rv.rc < t.end_at)
    AND NOT (t.next_set_at IS NOT NULL AND t.next_set_at <= t.end_at + {GRACE})
  UNION ALL
  SELECT license_id, rc, 0, NULL FROM churn_rv WHERE rc IS NOT NULL),
weeks AS (
  SELECT epoch_us(w) AS b FROM generate_series(date_trunc('week', make_timestamp({FROM})), make_timestamp({AS_OF} - 1), INTERVAL 1 WEEK) g(w))
SELECT w.b,
  (SELECT count(*) FROM churns c WHERE c.at >= greatest(w.b, {FROM}) AND c.at < least(w.b + 7 * {DAY}, {AS_OF})),
  (SELECT count(*) FROM churns c WHERE c.voluntary = 1 AND c.at >= greatest(w.b, {FROM}) AND c.at < least(w.b + 7 * {DAY}, {AS_OF})),
  (SELECT count(*) FROM churns c WHERE c.voluntary = 0 AND c.at >= greatest(w.b, {FROM}) AND c.at < least(w.b + 7 * {DAY}, {AS_OF})),
  (SELECT count(*) FROM cr WHERE cr.c0 <= w.b)
    - (SELECT count(*) FROM churns c WHERE c.at <= w.b AND (c.until IS NULL OR w.b < c.until))
FROM weeks w ORDER BY 1
