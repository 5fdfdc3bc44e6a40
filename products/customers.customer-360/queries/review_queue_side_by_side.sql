-- The stewards' queue, the likeliest pairs first: each pair's two records side by side, as their
-- systems hold them, the way a steward compares them before `mesh mdm match` or `mesh mdm split`.
SELECT r.match_probability,
       r.anchor, a.full_name AS customer_name, a.email AS customer_email, a.phone AS customer_phone,
       a.birth AS customer_birth,
       r.record, c.full_name AS contact_name, c.email AS contact_email, c.phone AS contact_phone,
       c.birth AS contact_birth,
       r.queued_at
FROM customers.customer_360_reviews_v1 r
JOIN customers.customer_360_xref_v1 a ON a.source || ':' || a.source_id = r.anchor
JOIN customers.customer_360_xref_v1 c ON c.source || ':' || c.source_id = r.record
ORDER BY r.match_probability DESC, r.record
LIMIT 20;
