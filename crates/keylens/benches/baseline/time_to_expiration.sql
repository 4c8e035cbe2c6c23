-- time_to_expiration by model: the licenses active at {AS_OF} whose current term (the latest
-- accepted end) runs past it, not revoked by then; days to that end, binned.
current_terms AS (
  SELECT t.license_id, t.end_at, t.amount FROM terms t WHERE t.next_set_at IS NULL),
running AS (
  SELECT ct.license_id, ct.end_at, ct.amount, cr.model
  FROM current_terms ct JOIN cr USING (license_id) LEFT JOIN churn_rv USING (license_id)
  WHERE ct.end_at > {AS_OF} AND churn_rv.rc IS NULL)
SELECT model, count(*), quantile_cont(d, 0.5),
       sum(CASE WHEN d < 7 THEN 1 ELSE 0 END), sum(CASE WHEN d >= 7 AND d < 30 THEN 1 ELSE 0 END),
       sum(CASE WHEN d >= 30 AND d < 90 THEN 1 ELSE 0 END), sum(CASE WHEN d >= 90 AND d < 365 THEN 1 ELSE 0 END),
       sum(CASE WHEN d >= 365 THEN 1 ELSE 0 END)
FROM (SELECT model, (end_at - {AS_OF}) / {DAY} AS d FROM running)
GROUP BY model ORDER BY 1
