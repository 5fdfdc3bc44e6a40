-- How often customers change their profile: customers grouped by the number of updates captured for
-- them, with which fields those updates changed (each update compared with the customer's previous
-- change, in source order). Under a PII mask, email and name changes are not visible and count 0.
WITH compared AS (
    SELECT customer_id, op,
           email            IS DISTINCT FROM lag(email)            OVER w AS email_changed,
           full_name        IS DISTINCT FROM lag(full_name)        OVER w AS name_changed,
           country          IS DISTINCT FROM lag(country)          OVER w AS country_changed,
           marketing_opt_in IS DISTINCT FROM lag(marketing_opt_in) OVER w AS opt_in_changed
    FROM subscriptions.customers_changes_v1
    WINDOW w AS (PARTITION BY customer_id ORDER BY position)
),
per_customer AS (
    SELECT customer_id,
           count(*) FILTER (WHERE op = 'u')                     AS updates,
           count(*) FILTER (WHERE op = 'u' AND email_changed)   AS email_changes,
           count(*) FILTER (WHERE op = 'u' AND name_changed)    AS name_changes,
           count(*) FILTER (WHERE op = 'u' AND country_changed) AS country_changes,
           count(*) FILTER (WHERE op = 'u' AND opt_in_changed)  AS opt_in_changes
    FROM compared
    GROUP BY customer_id
)
SELECT updates,
       count(*)             AS customers,
       sum(email_changes)   AS email_changes,
       sum(name_changes)    AS name_changes,
       sum(country_changes) AS country_changes,
       sum(opt_in_changes)  AS opt_in_changes
FROM per_customer
GROUP BY updates
ORDER BY updates;
