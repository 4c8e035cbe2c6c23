-- churn by week: recognised churns per week, and the licenses active at each week's start.
weeks AS (
  SELECT epoch_us(w) AS b FROM generate_series(date_trunc('week', make_timestamp({FROM})), make_timestamp({AS_OF} - 1), INTERVAL 1 WEEK) g(w))
SELECT w.b,
  (SELECT count(*) FROM churns c WHERE c.at >= greatest(w.b, {FROM}) AND c.at < least(w.b + 7 * {DAY}, {AS_OF})),
  (SELECT count(*) FROM churns c WHERE c.voluntary = 1 AND c.at >= greatest(w.b, {FROM}) AND c.at < least(w.b + 7 * {DAY}, {AS_OF})),
  (SELECT count(*) FROM churns c WHERE c.voluntary = 0 AND c.at >= greatest(w.b, {FROM}) AND c.at < least(w.b + 7 * {DAY}, {AS_OF})),
  (SELECT count(*) FROM cr WHERE cr.c0 <= w.b)
    - (SELECT count(*) FROM churns c WHERE c.at <= w.b AND (c.until IS NULL OR w.b < c.until))
FROM weeks w ORDER BY 1
