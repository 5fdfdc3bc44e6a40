-- Cancellations per day, from the change history: the days on which a subscription's status became
-- cancelled, a churn signal for the content-insights KPIs.
WITH ordered AS (
    SELECT subscription_id, status, changed_at,
           lag(status) OVER (PARTITION BY subscription_id ORDER BY position) AS previous_status
    FROM subscriptions.subscriptions_changes_v1
    WHERE op IN ('r', 'c', 'u')
)
SELECT CAST(changed_at AS DATE) AS day, count(*) AS cancellations
FROM ordered
WHERE status = 'cancelled' AND previous_status IS DISTINCT FROM 'cancelled'
GROUP BY day
ORDER BY day;
