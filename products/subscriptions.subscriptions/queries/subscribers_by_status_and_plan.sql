-- How many subscriptions are in trial, active, paused or cancelled now, per plan: the subscriber base
-- at a glance.
SELECT plan_id, status, count(*) AS subscriptions
FROM subscriptions.subscriptions_subscriptions_v1
GROUP BY plan_id, status
ORDER BY plan_id, status;
