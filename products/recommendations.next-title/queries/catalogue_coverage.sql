-- Coverage of the recommendations in service, in one row: customers served, recommendations made,
-- distinct titles recommended, genres they span, and how concentrated they are (the share of all
-- recommendations taken by the ten most recommended titles).
WITH per_title AS (
    SELECT title_id, count(*) AS times
    FROM recommendations.next_title_recommendations_v1
    GROUP BY title_id
),
top_ten AS (
    SELECT sum(times) AS times FROM (SELECT times FROM per_title ORDER BY times DESC LIMIT 10)
)
SELECT any_value(r.model_version)                          AS model_version,
       count(DISTINCT r.customer_id)                       AS customers,
       count(*)                                            AS recommendations,
       count(DISTINCT r.title_id)                          AS titles,
       count(DISTINCT r.primary_genre)                     AS genres,
       round(any_value(top_ten.times) / count(*), 3)       AS top_ten_share
FROM recommendations.next_title_recommendations_v1 r, top_ten;
