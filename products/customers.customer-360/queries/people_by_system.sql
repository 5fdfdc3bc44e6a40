-- How many people Streamline knows, by the systems that hold a record of them: customers only in the
-- subscription system, customers customer care also knows, and contacts who never subscribed; with
-- how many records each kind of golden record merges on average.
SELECT CASE sources
         WHEN 'subscriptions'     THEN 'customer, not in the CRM'
         WHEN 'subscriptions,crm' THEN 'customer known to customer care'
         ELSE 'CRM contact who never subscribed'
       END                           AS kind,
       count(*)                      AS people,
       round(avg(records), 2)        AS records_per_person,
       count(*) FILTER (WHERE records > 2) AS with_two_or_more_contacts
FROM customers.customer_360_golden_v1
GROUP BY kind
ORDER BY people DESC;
