-- Current contacts per country as the CRM records it (lower case folded, a missing country shown as
-- NULL): how many, and how many can be reached by email and by phone. Erased contacts are gone.
SELECT upper(country)                       AS country,
       count(*)                             AS contacts,
       count(*) FILTER (WHERE email <> '')  AS with_email,
       count(*) FILTER (WHERE phone <> '')  AS with_phone,
       count(birth_date)                    AS with_birth_date
FROM crm.contacts_contacts_v1
GROUP BY upper(country)
ORDER BY contacts DESC, country NULLS LAST;
