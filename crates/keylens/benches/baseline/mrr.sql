-- mrr by month: per currency, at each month's end (or as_of if sooner), the terms covering it.
SELECT p.b, t.currency, sum(t.amount / (CAST(t.end_at - t.start AS DOUBLE) / {DAY} / 30.4375))
FROM (SELECT t.*, CASE WHEN t.prev_end IS NULL THEN t.base_start WHEN t.set_at <= t.prev_end + {GRACE} THEN t.prev_end ELSE t.set_at END AS start, churn_rv.rc
      FROM terms t LEFT JOIN churn_rv USING (license_id) WHERE t.amount IS NOT NULL) t
CROSS JOIN (SELECT epoch_us(m) AS b, least(epoch_us(m + INTERVAL 1 MONTH), {AS_OF}) AS pt
            FROM generate_series(date_trunc('month', make_timestamp({FROM})), make_timestamp({AS_OF} - 1), INTERVAL 1 MONTH) g(m)) p
WHERE t.start < p.pt AND p.pt <= t.end_at AND NOT (t.rc IS NOT NULL AND t.rc < p.pt)
GROUP BY p.b, t.currency ORDER BY 1, 2
