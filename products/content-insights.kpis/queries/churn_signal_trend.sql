-- The churn signal per day: active subscribers, those of them who watched nothing in the seven days
-- up to that day (at risk) and their share, the day's change in that number, viewers and
-- cancellations. In the first week of data the look-back is short, so the risk is overstated.
SELECT day,
       active_subscribers,
       at_risk_subscribers,
       round(at_risk_subscribers / nullif(active_subscribers, 0), 3)   AS at_risk_share,
       at_risk_subscribers - lag(at_risk_subscribers) OVER (ORDER BY day) AS at_risk_change,
       viewers,
       cancellations
FROM content_insights.kpis_daily_v1
ORDER BY day DESC;
