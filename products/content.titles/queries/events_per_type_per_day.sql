-- What the content team published per day (UTC): TitleCreated, TitleUpdated and TitleRetired events,
-- and how many distinct titles they were about.
SELECT CAST(changed_at AT TIME ZONE 'UTC' AS DATE) AS day,
       event_type,
       count(*)                 AS events,
       count(DISTINCT title_id) AS titles
FROM content.titles_changes_v1
GROUP BY day, event_type
ORDER BY day DESC, event_type;
