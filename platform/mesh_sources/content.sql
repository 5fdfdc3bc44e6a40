-- The content team's own operational database. Its service writes a title and an outbox event in
-- the same transaction (the transactional outbox pattern); Debezium's outbox event router publishes
-- the events, so the team never exposes its tables.
-- Idempotent: `mesh cdc start` runs it on every start.

CREATE TABLE IF NOT EXISTS titles (
    title_id      bigint PRIMARY KEY,
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('film', 'episode')),
    genres        text[] NOT NULL,
    release_year  integer NOT NULL,
    duration_s    integer NOT NULL CHECK (duration_s > 0),
    maturity      text NOT NULL,
    available     boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS outbox (
    id             uuid PRIMARY KEY,
    aggregatetype  text NOT NULL,
    aggregateid    text NOT NULL,
    type           text NOT NULL,
    payload        text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
