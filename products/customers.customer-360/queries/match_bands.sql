-- How the CRM's contacts were linked: by band (match, review, no-match) and by who decided (the model
-- or a steward), with the range of match probabilities in each. A band's share shows how much work
-- the stewards have and how sure the model is.
SELECT band,
       CASE WHEN rule LIKE 'steward%' THEN 'steward' ELSE 'model' END AS decided_by,
       count(*)                                                       AS contacts,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1)             AS percent,
       round(min(match_probability), 3)                               AS lowest_probability,
       round(max(match_probability), 3)                               AS highest_probability
FROM customers.customer_360_xref_v1
WHERE source = 'crm'
GROUP BY band, decided_by
ORDER BY contacts DESC;
