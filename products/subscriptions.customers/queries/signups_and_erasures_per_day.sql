-- Sign-ups, profile edits and erasures per day (UTC), counted from the change history as the monolith
-- committed them: inserts (c), updates (u) and deletions (d). Rows read by the initial snapshot (r)
-- were there before capture started, so they are left out.
SELECT CAST(changed_at AT TIME ZONE 'UTC' AS DATE) AS day,
       count(*) FILTER (WHERE op = 'c')             AS sign_ups,
       count(*) FILTER (WHERE op = 'u')             AS profile_changes,
       count(*) FILTER (WHERE op = 'd')             AS erasures,
       count(DISTINCT customer_id)                  AS customers_touched
FROM subscriptions.customers_changes_v1
WHERE op IN ('c', 'u', 'd')
GROUP BY day
ORDER BY day DESC;
