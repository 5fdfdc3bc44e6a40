-- Customers who are drifting away: they watched in the last thirty days but not in the last seven,
-- most hours first, with how to reach them and what the recommender would offer them.
SELECT customer_id, full_name, email, country, known_to_customer_care,
       watch_hours_30d, last_watched_on, favourite_genre, next_titles
FROM customers.customer_profile_profiles_v1
WHERE watch_hours_7d = 0 AND watch_hours_30d > 0
ORDER BY watch_hours_30d DESC, customer_id
LIMIT 50;
