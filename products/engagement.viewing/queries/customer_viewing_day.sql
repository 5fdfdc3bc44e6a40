-- One customer's latest day of viewing, session by session in the order they started (replace the
-- id): the title, device and country, minutes watched, how far into the title it got, and whether
-- the session is still open (may grow) or closed (final).
WITH wanted AS (SELECT 106 AS customer_id),
latest AS (
    SELECT max(day) AS day
    FROM engagement.viewing_sessions_v1 JOIN wanted USING (customer_id)
)
SELECT started_at,
       ended_at,
       title_id,
       title_name,
       primary_genre,
       device,
       viewing_country,
       events,
       round(watch_seconds / 60.0, 1) AS watch_minutes,
       round(completion, 3)           AS completion,
       completed,
       status
FROM engagement.viewing_sessions_v1 JOIN wanted USING (customer_id) JOIN latest USING (day)
ORDER BY started_at;
