-- The genres with their share of all titles (step compatible).
SELECT coalesce(primary_genre, 'unknown') AS genre,
       count(*) AS titles,
       count(*) FILTER (WHERE kind = 'film') AS films,
       count(*) FILTER (WHERE kind = 'episode') AS episodes,
       avg(duration_s) / 60.0 AS avg_duration_min,
       max(release_year) AS newest_release,
       count(*) / sum(count(*)) OVER () AS share
FROM titles
GROUP BY ALL
