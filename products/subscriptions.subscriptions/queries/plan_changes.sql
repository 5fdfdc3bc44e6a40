-- Upgrades and downgrades: every change of a subscription's plan, from which plan to which, counted.
WITH ordered AS (
    SELECT subscription_id, plan_id,
           lag(plan_id) OVER (PARTITION BY subscription_id ORDER BY position) AS previous_plan
    FROM subscriptions.subscriptions_changes_v1
    WHERE op <> 'd'
)
SELECT previous_plan AS from_plan, plan_id AS to_plan, count(*) AS changes
FROM ordered
WHERE previous_plan IS NOT NULL AND previous_plan <> plan_id
GROUP BY from_plan, to_plan
ORDER BY changes DESC;
