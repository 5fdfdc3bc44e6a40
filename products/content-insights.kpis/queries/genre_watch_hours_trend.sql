-- Watch hours per genre per day, with the change since the genre's previous day of viewing and its
-- share of the day's watch hours: which genres grow and which fade.
SELECT day,
       genre,
       round(watch_hours, 2)                                                     AS watch_hours,
       round(watch_hours - lag(watch_hours) OVER (PARTITION BY genre ORDER BY day), 2) AS change_hours,
       round(watch_hours / sum(watch_hours) OVER (PARTITION BY day), 3)          AS share_of_day,
       viewers,
       sessions,
       titles_watched,
       round(completion_rate, 3)                                                 AS completion_rate
FROM content_insights.kpis_genre_daily_v1
ORDER BY day DESC, share_of_day DESC, genre;
