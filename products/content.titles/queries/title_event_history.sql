-- One title's events in the order the content service published them (position is the event's
-- offset), each with the title's whole state after it; replace the id.
SELECT position, event_type, op, changed_at, name, genres, maturity, available, updated_at, event_id
FROM content.titles_changes_v1
WHERE title_id = 1
ORDER BY position;
