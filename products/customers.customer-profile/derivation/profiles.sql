-- One row per customer (a golden record with a subscription): who they are, how they watch, and what
-- the recommender would show them next. "Today" is the newest day engagement.viewing has, so that the
-- summary follows the data, not the clock.
WITH today AS (
    SELECT max(day) AS day FROM daily
),
viewing AS (
    SELECT d.customer_id,
           sum(d.watch_seconds) FILTER (WHERE d.day > t.day - 7)            AS watch_seconds_7d,
           sum(d.sessions) FILTER (WHERE d.day > t.day - 7)                 AS sessions_7d,
           count(DISTINCT d.title_id) FILTER (WHERE d.day > t.day - 7)      AS titles_7d,
           sum(d.watch_seconds) FILTER (WHERE d.day > t.day - 30)           AS watch_seconds_30d,
           max(d.day)                                                       AS last_watched_on
    FROM daily d, today t
    GROUP BY d.customer_id
),
genres AS (
    SELECT d.customer_id, d.primary_genre,
           row_number() OVER (PARTITION BY d.customer_id ORDER BY sum(d.watch_seconds) DESC, d.primary_genre) AS n
    FROM daily d, today t
    WHERE d.day > t.day - 30 AND d.primary_genre IS NOT NULL
    GROUP BY d.customer_id, d.primary_genre
),
next_up AS (
    SELECT customer_id,
           string_agg(title_name, ' · ' ORDER BY rank) FILTER (WHERE rank <= 3) AS next_titles,
           max(primary_genre) FILTER (WHERE rank = 1)                           AS next_genre,
           max(model_version)                                                   AS model_version
    FROM recommendations
    GROUP BY customer_id
)
SELECT g.golden_id,
       g.customer_id,
       g.full_name,
       g.email,
       g.country,
       g.sources LIKE '%crm%'                               AS known_to_customer_care,
       round(coalesce(v.watch_seconds_7d, 0) / 3600.0, 2)   AS watch_hours_7d,
       CAST(coalesce(v.sessions_7d, 0) AS INTEGER)          AS sessions_7d,
       CAST(coalesce(v.titles_7d, 0) AS INTEGER)            AS titles_7d,
       round(coalesce(v.watch_seconds_30d, 0) / 3600.0, 2)  AS watch_hours_30d,
       v.last_watched_on,
       fg.primary_genre                                     AS favourite_genre,
       n.next_titles,
       n.next_genre,
       n.model_version,
       CAST(current_timestamp AS TIMESTAMPTZ)               AS updated_at
FROM golden g
LEFT JOIN viewing v ON v.customer_id = g.customer_id
LEFT JOIN genres fg ON fg.customer_id = g.customer_id AND fg.n = 1
LEFT JOIN next_up n ON n.customer_id = g.customer_id
WHERE g.customer_id IS NOT NULL
