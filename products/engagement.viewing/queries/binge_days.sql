-- Binge days: customers who started three or more viewing sessions on one day (UTC), with how many
-- titles, the hours watched and the sessions finished, the heaviest viewing first.
SELECT day,
       customer_id,
       count(*)                              AS sessions,
       count(DISTINCT title_id)              AS titles,
       round(sum(watch_seconds) / 3600.0, 2) AS watch_hours,
       count(*) FILTER (WHERE completed)     AS completed_sessions,
       min(started_at)                       AS first_started_at,
       max(ended_at)                         AS last_event_at
FROM engagement.viewing_sessions_v1
GROUP BY day, customer_id
HAVING count(*) >= 3
ORDER BY sum(watch_seconds) DESC, day DESC, customer_id
LIMIT 50;
