-- The ten titles with the most viewers on the newest day in the KPIs (a UTC day; today's still
-- fills up), with their sessions, watch hours and completion rate.
SELECT day,
       title_id,
       title_name,
       primary_genre,
       viewers,
       sessions,
       round(watch_hours, 2)     AS watch_hours,
       round(completion_rate, 3) AS completion_rate
FROM content_insights.kpis_title_daily_v1
WHERE day = (SELECT max(day) FROM content_insights.kpis_title_daily_v1)
ORDER BY viewers DESC, sessions DESC, title_id
LIMIT 10;
