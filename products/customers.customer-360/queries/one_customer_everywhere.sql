-- One customer as every system holds them (replace the id): the golden record, then each source
-- record as received with the rule that put it there. Provenance says which record each golden value
-- came from.
SELECT 'golden' AS what, g.golden_id, NULL AS record, g.full_name, g.email, g.phone, g.country, g.birth,
       NULL AS band, NULL AS match_probability, g.provenance AS why
FROM customers.customer_360_golden_v1 g
WHERE g.customer_id = 1
UNION ALL
SELECT 'record', x.golden_id, x.source || ':' || x.source_id, x.full_name, x.email, x.phone, x.country,
       x.birth, x.band, x.match_probability, x.rule
FROM customers.customer_360_xref_v1 x
WHERE x.golden_id = (SELECT golden_id FROM customers.customer_360_golden_v1 WHERE customer_id = 1)
ORDER BY what, record;
