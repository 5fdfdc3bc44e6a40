-- Watch time per day and country the app was used in: viewers, sessions, hours watched, the share of
-- sessions finished, and how many sessions were watched away from the customer's home country.
SELECT day,
       viewing_country,
       count(DISTINCT customer_id)                                       AS viewers,
       count(*)                                                          AS sessions,
       round(sum(watch_seconds) / 3600.0, 2)                             AS watch_hours,
       round(count(*) FILTER (WHERE completed) / count(*), 3)            AS completion_rate,
       count(*) FILTER (WHERE viewing_country <> home_country)           AS away_from_home
FROM engagement.viewing_sessions_v1
GROUP BY day, viewing_country
ORDER BY day DESC, sum(watch_seconds) DESC, viewing_country;
