-- misuse, by hand: each signal of docs/metrics.md ("Misuse signals") over the events in
-- [{FROM}, {AS_OF}), a license's seats from its first creation (1 without one), and the score
-- (signals fired) of every license with at least one. Thresholds: {CYCLING} (machines per
-- seat), {IP_FACTOR} and {IP_EXTRA} (IPs per seat, and more), {COUNTRIES}, {SPEED} (km/h),
-- {MIN_KM}, {BURST} (failures); the windows are the defaults (48 hours, one hour).
seats AS (
  SELECT license_id, coalesce(seats, 1) AS seats
  FROM (SELECT license_id, seats, row_number() OVER (PARTITION BY license_id ORDER BY ts, id) AS n FROM events
        WHERE type = 'license.created' AND license_id IS NOT NULL AND ts <= {AS_OF}) WHERE n = 1),
ev AS (
  SELECT e.license_id, e.id, e.ts, e.type, e.machine_id, e.ip, e.country, e.lat, e.lon, coalesce(s.seats, 1) AS seats
  FROM events e LEFT JOIN seats s USING (license_id)
  WHERE e.license_id IS NOT NULL AND e.ts >= {FROM} AND e.ts < {AS_OF}
    AND e.type IN ('license.activated', 'license.deactivated', 'license.validated', 'license.activation_failed')),
-- seat_overuse: machines active at once, a running sum of each machine's changes of state.
seat_overuse AS (
  SELECT license_id FROM (
    SELECT license_id, seats, sum(delta) OVER (PARTITION BY license_id ORDER BY ts, id ROWS UNBOUNDED PRECEDING) AS active
    FROM (SELECT license_id, seats, ts, id,
                 CAST(type = 'license.activated' AS INTEGER)
                   - coalesce(CAST(lag(type) OVER (PARTITION BY license_id, machine_id ORDER BY ts, id) = 'license.activated' AS INTEGER), 0) AS delta
          FROM ev WHERE machine_id IS NOT NULL AND type IN ('license.activated', 'license.deactivated')))
  GROUP BY license_id HAVING max(active) > max(seats)),
spread AS (
  SELECT license_id,
         count(DISTINCT machine_id) FILTER (WHERE type = 'license.activated') > {CYCLING} * max(seats) AS machine_cycling,
         count(DISTINCT country) > {COUNTRIES} AS country_spread
  FROM ev GROUP BY license_id),
-- ip_spread: distinct IPs among the events of any 48 hours.
ip_spread AS (
  SELECT license_id FROM (
    SELECT license_id, seats, count(DISTINCT ip) OVER (PARTITION BY license_id ORDER BY ts RANGE BETWEEN 172799999999 PRECEDING AND CURRENT ROW) AS ips
    FROM ev WHERE ip IS NOT NULL)
  GROUP BY license_id HAVING max(ips) > {IP_FACTOR} * max(seats) + {IP_EXTRA}),
-- impossible_travel: consecutive located events, haversine distance over the time between.
located AS (
  SELECT license_id, ts, lat, lon,
         lag(ts) OVER w AS pts, lag(lat) OVER w AS plat, lag(lon) OVER w AS plon
  FROM ev WHERE lat IS NOT NULL AND lon IS NOT NULL
  WINDOW w AS (PARTITION BY license_id ORDER BY ts, id)),
impossible_travel AS (
  SELECT DISTINCT license_id FROM (
    SELECT license_id, ts, pts,
           2 * 6371 * asin(sqrt(pow(sin((radians(lat) - radians(plat)) / 2), 2)
             + cos(radians(plat)) * cos(radians(lat)) * pow(sin((radians(lon) - radians(plon)) / 2), 2))) AS km
    FROM located WHERE pts IS NOT NULL)
  WHERE km > {MIN_KM} AND (ts = pts OR km / ((ts - pts) / 3.6e9) > {SPEED})),
-- failure_burst: failed activations within any hour.
failure_burst AS (
  SELECT DISTINCT license_id FROM (
    SELECT license_id, count(*) OVER (PARTITION BY license_id ORDER BY ts RANGE BETWEEN 3599999999 PRECEDING AND CURRENT ROW) AS n
    FROM ev WHERE type = 'license.activation_failed')
  WHERE n >= {BURST}),
-- use_after_end: an activation or valid validation after the revocation, or inside a churn.
ends AS (
  SELECT license_id, rv_at AS ended, NULL::BIGINT AS until FROM rv
  UNION ALL SELECT c.license_id, c.at, c.until FROM churns c),
use_after_end AS (
  SELECT DISTINCT u.license_id FROM events u JOIN ends x USING (license_id)
  WHERE (u.type = 'license.activated' OR (u.type = 'license.validated' AND u.result = 'valid'))
    AND u.ts >= {FROM} AND u.ts < {AS_OF} AND u.ts > x.ended AND (x.until IS NULL OR u.ts < x.until)),
fired AS (
  SELECT license_id, 1 AS n FROM seat_overuse
  UNION ALL SELECT license_id, 1 FROM spread WHERE machine_cycling
  UNION ALL SELECT license_id, 1 FROM ip_spread
  UNION ALL SELECT license_id, 1 FROM spread WHERE country_spread
  UNION ALL SELECT license_id, 1 FROM impossible_travel
  UNION ALL SELECT license_id, 1 FROM failure_burst
  UNION ALL SELECT license_id, 1 FROM use_after_end)
SELECT license_id, sum(n) FROM fired GROUP BY license_id ORDER BY 1
