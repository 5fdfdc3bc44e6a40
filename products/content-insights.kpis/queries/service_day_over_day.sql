-- The service day over day: viewers, sessions, watch hours and completion rate per day, each beside
-- its change since the previous day with viewing (null on the first day).
SELECT day,
       viewers,
       viewers - lag(viewers) OVER w                          AS viewers_change,
       sessions,
       sessions - lag(sessions) OVER w                        AS sessions_change,
       round(watch_hours, 2)                                  AS watch_hours,
       round(watch_hours - lag(watch_hours) OVER w, 2)        AS watch_hours_change,
       round(completion_rate, 3)                              AS completion_rate,
       round(completion_rate - lag(completion_rate) OVER w, 3) AS completion_rate_change
FROM content_insights.kpis_daily_v1
WINDOW w AS (ORDER BY day)
ORDER BY day DESC;
