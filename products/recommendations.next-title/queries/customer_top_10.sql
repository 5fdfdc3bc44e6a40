-- One customer's ten recommended titles in rank order (replace the id): the title's name and genre,
-- the model's score, and the model version that chose them.
SELECT rank,
       title_id,
       title_name,
       primary_genre,
       round(score, 4) AS score,
       model_version,
       generated_at
FROM recommendations.next_title_recommendations_v1
WHERE customer_id = 106
ORDER BY rank;
