-- Customers per country as they were at a moment, rebuilt from the change history: each customer's
-- newest change committed by then counts, unless it was an erasure. Replace now() with the moment,
-- e.g. TIMESTAMPTZ '2026-11-01 00:00:00+00' (the history starts when capture started).
WITH newest AS (
    SELECT customer_id, op, country
    FROM subscriptions.customers_changes_v1
    WHERE changed_at <= now()
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY position DESC) = 1
)
SELECT country, count(*) AS customers
FROM newest
WHERE op <> 'd'
GROUP BY country
ORDER BY customers DESC, country;
