-- Does the recommender stay within a customer's favourite genre? For customers with both, how often
-- its first pick is of the genre they watched most in thirty days, by favourite genre.
SELECT favourite_genre,
       count(*)                                                        AS customers,
       count(*) FILTER (WHERE next_genre = favourite_genre)            AS first_pick_same_genre,
       round(100.0 * count(*) FILTER (WHERE next_genre = favourite_genre) / count(*), 1) AS same_percent
FROM customers.customer_profile_profiles_v1
WHERE favourite_genre IS NOT NULL AND next_genre IS NOT NULL
GROUP BY favourite_genre
ORDER BY customers DESC, favourite_genre;
