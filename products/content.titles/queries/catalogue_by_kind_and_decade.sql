-- The catalogue by kind (film or episode) and decade of first release: titles, how many are still
-- available, and the typical running time.
SELECT kind,
       release_year - release_year % 10    AS decade,
       count(*)                            AS titles,
       count(*) FILTER (WHERE available)   AS available,
       round(median(duration_s) / 60.0, 1) AS median_minutes
FROM content.titles_titles_v1
GROUP BY kind, decade
ORDER BY kind, decade;
