-- Current customers per country: how many, the share who agreed to marketing messages, and the
-- oldest and newest sign-up. Erased customers are no longer in the current state.
SELECT country,
       count(*)                                                   AS customers,
       count(*) FILTER (WHERE marketing_opt_in)                   AS marketing_opt_ins,
       round(100.0 * count(*) FILTER (WHERE marketing_opt_in) / count(*), 1) AS opt_in_percent,
       min(created_at)                                            AS first_sign_up,
       max(created_at)                                            AS latest_sign_up
FROM subscriptions.customers_customers_v1
GROUP BY country
ORDER BY customers DESC, country;
