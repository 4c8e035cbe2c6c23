-- trial_conversion_rate by tier, by hand: each license's first creation (its tier, model and
-- first term end), then whether a move to another model, or a renewal before any revocation,
-- came by the end of that term's grace. Placeholders: {AS_OF}, {FROM}, {GRACE}.
WITH created AS (
  SELECT license_id, ts AS c0, tier, model, CASE WHEN expires_at IS NOT NULL THEN greatest(expires_at, ts) END AS e0
  FROM (SELECT *, row_number() OVER (PARTITION BY license_id ORDER BY ts, id) AS n FROM events
        WHERE type = 'license.created' AND license_id IS NOT NULL AND ts <= {AS_OF}) WHERE n = 1),
trials AS (
  SELECT * FROM created
  WHERE model = 'trial' AND c0 >= {FROM} AND c0 < {AS_OF} AND e0 IS NOT NULL AND e0 + {GRACE} <= {AS_OF}),
revoked AS (
  SELECT e.license_id, min(e.ts) AS at FROM events e JOIN trials t USING (license_id)
  WHERE e.type = 'license.revoked' AND e.ts >= t.c0 AND e.ts <= {AS_OF} GROUP BY e.license_id),
converted AS (
  SELECT DISTINCT e.license_id FROM events e JOIN trials t USING (license_id) LEFT JOIN revoked r USING (license_id)
  WHERE e.ts >= t.c0 AND e.ts <= t.e0 + {GRACE}
    AND ((e.type = 'license.upgraded' AND e.model IS NOT NULL AND e.model <> t.model)
         OR (e.type = 'license.renewed' AND (r.at IS NULL OR e.ts < r.at))))
SELECT t.tier, count(*), count(c.license_id) FROM trials t LEFT JOIN converted c USING (license_id)
GROUP BY t.tier ORDER BY 1
