-- The license fold of docs/metrics.md ("The derived license") written by hand over the raw
-- `events` table, as a user without keylens would: each license's creation, first revocation,
-- and its chain of term ends rebuilt by a recursive query, in the fold's order (timestamp, then
-- created < revoked < expired < renewed, then id). Events after {AS_OF} are left out first,
-- which is what "as of" means. Renewal terms are the ones the data holds (P1M, P1Y).
-- Placeholders: {AS_OF}, {FROM}, {GRACE} (microseconds), {DAY}.
WITH RECURSIVE
lc AS (
  SELECT license_id, id, ts, type, expires_at, term, region, model, amount, currency,
         CASE type WHEN 'license.created' THEN 0 WHEN 'license.revoked' THEN 1
                   WHEN 'license.expired' THEN 2 ELSE 3 END AS k
  FROM events
  WHERE license_id IS NOT NULL AND ts <= {AS_OF}
    AND type IN ('license.created', 'license.revoked', 'license.expired', 'license.renewed')),
cr AS (
  SELECT license_id, ts AS c0, region, model, amount AS a0, currency AS cur0, CASE WHEN expires_at IS NOT NULL THEN greatest(expires_at, ts) END AS e0
  FROM (SELECT *, row_number() OVER (PARTITION BY license_id ORDER BY ts, id) AS n
        FROM lc WHERE k = 0) WHERE n = 1),
rv AS (
  SELECT lc.license_id, min(lc.ts) AS rv_at FROM lc JOIN cr USING (license_id)
  WHERE lc.k = 1 AND lc.ts >= cr.c0 GROUP BY lc.license_id),
steps AS (
  SELECT lc.license_id, lc.ts, lc.k, lc.expires_at, lc.amount, lc.currency,
         CASE lc.term WHEN 'P1M' THEN INTERVAL 1 MONTH WHEN 'P1Y' THEN INTERVAL 1 YEAR END AS span,
         row_number() OVER (PARTITION BY lc.license_id ORDER BY lc.ts, lc.k, lc.id) AS rn
  FROM lc JOIN cr USING (license_id) LEFT JOIN rv USING (license_id)
  WHERE lc.k IN (2, 3) AND lc.ts >= cr.c0 AND (rv.rv_at IS NULL OR lc.ts < rv.rv_at)),
chain(license_id, rn, cur_end, accepted, end_at, set_at, prev_end, base_start, amount, currency) AS (
  SELECT license_id, 0, e0, e0 IS NOT NULL, e0, c0, NULL::BIGINT, c0, a0, cur0 FROM cr
  UNION ALL
  SELECT license_id, rn, CASE WHEN ok THEN ne ELSE cur_end END, ok, ne, ts, cur_end,
         CASE WHEN k = 2 THEN c0 ELSE ts END, amount, currency
  FROM (
    SELECT s.license_id, s.rn, s.ts, s.k, ch.cur_end, cr.c0, ne,
           CASE WHEN s.k = 3 THEN s.amount END AS amount, CASE WHEN s.k = 3 THEN s.currency END AS currency,
           CASE WHEN s.k = 2 THEN ch.cur_end IS NULL
                ELSE ne IS NOT NULL AND (ch.cur_end IS NULL OR ne > ch.cur_end) AND ne > s.ts END AS ok
    FROM chain ch JOIN steps s ON s.license_id = ch.license_id AND s.rn = ch.rn + 1
    JOIN cr ON cr.license_id = s.license_id,
    LATERAL (SELECT CASE WHEN s.k = 2 THEN s.ts
                         WHEN s.expires_at IS NOT NULL THEN s.expires_at
                         WHEN s.span IS NULL THEN NULL
                         WHEN ch.cur_end IS NOT NULL AND ch.cur_end >= s.ts THEN epoch_us(make_timestamp(ch.cur_end) + s.span)
                         ELSE epoch_us(make_timestamp(s.ts) + s.span) END AS ne))),
terms AS (
  SELECT license_id, end_at, set_at, prev_end, base_start, amount, currency,
         lead(set_at) OVER (PARTITION BY license_id ORDER BY end_at) AS next_set_at
  FROM chain WHERE accepted),
churn_rv AS (
  SELECT rv.license_id, CASE WHEN max(t.end_at) IS NOT NULL AND rv.rv_at >= max(t.end_at) THEN NULL ELSE rv.rv_at END AS rc
  FROM rv LEFT JOIN terms t ON t.license_id = rv.license_id AND t.set_at < rv.rv_at
  GROUP BY rv.license_id, rv.rv_at),
-- Every recognised churn: term ends not renewed in time, revocations of active licenses;
-- `until` is the reactivation.
churns AS (
  SELECT t.license_id, t.end_at AS at, 1 AS voluntary, t.next_set_at AS until
  FROM terms t LEFT JOIN churn_rv USING (license_id)
  WHERE t.end_at + {GRACE} <= {AS_OF} AND NOT (churn_rv.rc IS NOT NULL AND churn_rv.rc < t.end_at)
    AND NOT (t.next_set_at IS NOT NULL AND t.next_set_at <= t.end_at + {GRACE})
  UNION ALL
  SELECT license_id, rc, 0, NULL FROM churn_rv WHERE rc IS NOT NULL)
