-- The content team's release 2: in their own database, the catalogue's column `name` becomes `title`.
-- Their service writes a title and its outbox event in one transaction; the event is what they
-- publish, so the release maps the renamed column back to the event's `name`. Here, the migration and
-- the release's first change of a title, as their service would write it.
BEGIN;
ALTER TABLE titles RENAME COLUMN name TO title;
WITH changed AS (
    UPDATE titles SET title = title || ' (Director''s Cut)', updated_at = now() WHERE title_id = 7
    RETURNING *
)
INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
SELECT gen_random_uuid(), 'title', title_id::text, 'TitleUpdated',
       json_build_object(
           'title_id', title_id, 'name', title, 'kind', kind, 'genres', genres,
           'release_year', release_year, 'duration_s', duration_s, 'maturity', maturity,
           'available', available,
           'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00'
       )::text
FROM changed;
COMMIT;
