-- Which titles viewers finish most often this week (the seven days up to the newest day in the KPIs):
-- the completion rate over all of a title's sessions in the week, for titles with at least two
-- sessions (raise the floor on a busy service), best first.
WITH week AS (
    SELECT *
    FROM content_insights.kpis_title_daily_v1
    WHERE day > (SELECT max(day) FROM content_insights.kpis_title_daily_v1) - INTERVAL 7 DAY
)
SELECT title_id,
       arg_max(title_name, day)                                  AS title_name,
       arg_max(primary_genre, day)                               AS primary_genre,
       sum(sessions)                                             AS sessions,
       sum(completed_sessions)                                   AS completed_sessions,
       round(sum(completed_sessions) / sum(sessions), 3)         AS completion_rate,
       round(sum(watch_hours), 2)                                AS watch_hours
FROM week
GROUP BY title_id
HAVING sum(sessions) >= 2
ORDER BY sum(completed_sessions) / sum(sessions) DESC, sum(sessions) DESC, title_id
LIMIT 20;
