-- People customer care talks to who never subscribed (golden records without a customer), by country:
-- where the prospects are. Reachable means the golden record has an email or a phone number.
SELECT country,
       count(*)                                                     AS prospects,
       count(*) FILTER (WHERE email IS NOT NULL OR phone IS NOT NULL) AS reachable
FROM customers.customer_360_golden_v1
WHERE customer_id IS NULL
GROUP BY country
ORDER BY prospects DESC, country NULLS LAST;
