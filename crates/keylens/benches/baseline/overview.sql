-- overview as of {AS_OF}: licenses active, first activations and failed activations in the
-- last day, churns in the last 30 days, renewal opportunities and renewals in time over the
-- last 90 days, bookings in the last 30 days per currency.
first_activations AS (
  SELECT license_id, min(ts) AS at FROM events
  WHERE type = 'license.activated' AND license_id IS NOT NULL AND ts <= {AS_OF} GROUP BY license_id),
opportunities AS (
  SELECT t.* FROM terms t LEFT JOIN churn_rv USING (license_id)
  WHERE t.end_at >= {AS_OF} - 90 * {DAY} AND t.end_at < {AS_OF} AND t.end_at + {GRACE} <= {AS_OF}
    AND NOT (churn_rv.rc IS NOT NULL AND churn_rv.rc < t.end_at)
    AND (CASE WHEN t.prev_end IS NULL THEN t.base_start WHEN t.set_at <= t.prev_end + {GRACE} THEN t.prev_end ELSE t.set_at END) < t.end_at),
bookings AS (
  SELECT currency, sum(amount) AS amount FROM events
  WHERE type IN ('license.created', 'license.renewed', 'license.upgraded') AND amount IS NOT NULL
    AND ts > {AS_OF} - 30 * {DAY} AND ts <= {AS_OF} GROUP BY currency)
SELECT
  (SELECT count(*) FROM cr) - (SELECT count(*) FROM churns c WHERE c.until IS NULL OR {AS_OF} < c.until),
  (SELECT count(*) FROM cr JOIN first_activations f USING (license_id) WHERE f.at > {AS_OF} - {DAY}),
  (SELECT count(*) FROM events WHERE type = 'license.activation_failed' AND ts > {AS_OF} - {DAY} AND ts <= {AS_OF}),
  (SELECT count(*) FROM churns c WHERE c.at > {AS_OF} - 30 * {DAY}),
  (SELECT count(*) FROM opportunities),
  (SELECT count(*) FROM opportunities t WHERE t.next_set_at IS NOT NULL AND t.next_set_at <= t.end_at + {GRACE}),
  (SELECT amount FROM bookings WHERE currency = 'EUR'),
  (SELECT amount FROM bookings WHERE currency = 'GBP'),
  (SELECT amount FROM bookings WHERE currency = 'USD')
