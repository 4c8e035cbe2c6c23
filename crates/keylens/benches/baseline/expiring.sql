-- expiring: the licenses active at {AS_OF} whose current term ends within the next 30 days,
-- with that term's end and amount.
current_terms AS (
  SELECT t.license_id, t.end_at, t.amount FROM terms t WHERE t.next_set_at IS NULL)
SELECT ct.license_id, ct.end_at, ct.amount
FROM current_terms ct LEFT JOIN churn_rv USING (license_id)
WHERE ct.end_at > {AS_OF} AND ct.end_at <= {AS_OF} + 30 * {DAY} AND churn_rv.rc IS NULL
ORDER BY ct.end_at, ct.license_id
