-- compare renewal_rate, a = region EU, b = region NA: renewal_rate's opportunities and
-- renewals in time for each segment.
SELECT CASE cr.region WHEN 'EU' THEN 'a' ELSE 'b' END AS segment, count(*),
       sum(CASE WHEN t.next_set_at IS NOT NULL AND t.next_set_at <= t.end_at + {GRACE} THEN 1 ELSE 0 END)
FROM terms t JOIN cr USING (license_id) LEFT JOIN churn_rv USING (license_id)
WHERE cr.region IN ('EU', 'NA')
  AND t.end_at >= {FROM} AND t.end_at < {AS_OF} AND t.end_at + {GRACE} <= {AS_OF}
  AND NOT (churn_rv.rc IS NOT NULL AND churn_rv.rc < t.end_at)
  AND (CASE WHEN t.prev_end IS NULL THEN t.base_start WHEN t.set_at <= t.prev_end + {GRACE} THEN t.prev_end ELSE t.set_at END) < t.end_at
GROUP BY segment ORDER BY 1
