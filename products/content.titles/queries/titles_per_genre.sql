-- The catalogue by main genre (primary_genre, the first one listed): titles, how many can be watched
-- now, films and episodes, and the average running time.
SELECT primary_genre,
       count(*)                                 AS titles,
       count(*) FILTER (WHERE available)        AS available,
       count(*) FILTER (WHERE kind = 'film')    AS films,
       count(*) FILTER (WHERE kind = 'episode') AS episodes,
       round(avg(duration_s) / 60.0, 1)         AS avg_minutes
FROM content.titles_titles_v1
GROUP BY primary_genre
ORDER BY titles DESC, primary_genre;
