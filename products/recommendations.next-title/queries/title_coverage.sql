-- How often each title is recommended: the customers who get it, how many get it first, its average
-- rank and its share of the customers with recommendations. A few titles in everyone's list means
-- the model has collapsed towards popularity; titles missing here are never recommended.
WITH audience AS (
    SELECT count(DISTINCT customer_id) AS customers FROM recommendations.next_title_recommendations_v1
)
SELECT title_id,
       title_name,
       primary_genre,
       count(DISTINCT customer_id)                                        AS customers,
       count(*) FILTER (WHERE rank = 1)                                   AS at_rank_1,
       round(avg(rank), 1)                                                AS avg_rank,
       round(count(DISTINCT customer_id) / any_value(audience.customers), 3) AS share_of_customers
FROM recommendations.next_title_recommendations_v1, audience
GROUP BY title_id, title_name, primary_genre
ORDER BY customers DESC, at_rank_1 DESC, title_id;
