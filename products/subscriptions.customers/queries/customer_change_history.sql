-- Everything that happened to one customer, change by change in the order the monolith committed
-- them (position is the PostgreSQL log sequence number); replace the id. An erased customer's history
-- ends with a d row holding the last known values.
SELECT position, op, changed_at, email, full_name, country, birth_year, marketing_opt_in,
       created_at, updated_at, ingested_at
FROM subscriptions.customers_changes_v1
WHERE customer_id = 1
ORDER BY position;
