-- How much customers watch, by country: average hours in the last seven days, the share who watched at
-- all, and the share customer care also knows.
SELECT country,
       count(*)                                                        AS customers,
       round(avg(watch_hours_7d), 2)                                   AS avg_hours_7d,
       round(100.0 * count(*) FILTER (WHERE watch_hours_7d > 0) / count(*), 1) AS watching_percent,
       round(100.0 * count(*) FILTER (WHERE known_to_customer_care) / count(*), 1) AS known_to_care_percent
FROM customers.customer_profile_profiles_v1
GROUP BY country
ORDER BY customers DESC, country;
