-- New contacts, edits and erasures per day (UTC), counted from the change history as the CRM committed
-- them: inserts (c), updates (u) and deletions (d). Contacts read by the initial snapshot (r) were
-- there before capture started, so they are left out.
SELECT CAST(changed_at AT TIME ZONE 'UTC' AS DATE) AS day,
       count(*) FILTER (WHERE op = 'c')             AS new_contacts,
       count(*) FILTER (WHERE op = 'u')             AS edits,
       count(*) FILTER (WHERE op = 'd')             AS erasures,
       count(DISTINCT contact_id)                   AS contacts_touched
FROM crm.contacts_changes_v1
WHERE op IN ('c', 'u', 'd')
GROUP BY day
ORDER BY day DESC;
