-- Everything that happened to one contact, change by change in the order the CRM committed them
-- (position is the PostgreSQL log sequence number); replace the id (the CRM numbers contacts from
-- 700001). An erased contact's history ends with a d row holding the last known values.
SELECT position, op, changed_at, first_name, last_name, email, phone, country, birth_date,
       updated_at, ingested_at
FROM crm.contacts_changes_v1
WHERE contact_id = (SELECT min(contact_id) FROM crm.contacts_changes_v1)
ORDER BY position;
