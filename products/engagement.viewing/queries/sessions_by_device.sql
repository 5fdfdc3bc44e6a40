-- How each device class is used: sessions, viewers, the median and longest minutes watched per
-- session, the share of sessions finished, and how many sessions are still open.
SELECT device,
       count(*)                                                AS sessions,
       count(DISTINCT customer_id)                             AS viewers,
       round(median(watch_seconds) / 60.0, 1)                  AS median_minutes,
       round(max(watch_seconds) / 60.0, 1)                     AS longest_minutes,
       round(count(*) FILTER (WHERE completed) / count(*), 3)  AS completion_rate,
       count(*) FILTER (WHERE status = 'open')                 AS open_sessions
FROM engagement.viewing_sessions_v1
GROUP BY device
ORDER BY sessions DESC, device;
