-- The subscriptions service: the new home of subscriptions, peeled off the legacy monolith customer by
-- customer (the strangler fig; see mesh_sources.strangler). Its own database, greenfield: every write
-- and its event in one transaction (transactional outbox), published by Debezium's outbox event router.
-- Customers stay in the monolith; their ids are the monolith's. Idempotent.

CREATE TABLE IF NOT EXISTS plans (
    plan_id        integer PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    monthly_cents  integer NOT NULL CHECK (monthly_cents >= 0),
    currency       char(3) NOT NULL DEFAULT 'EUR',
    max_streams    integer NOT NULL CHECK (max_streams > 0),
    active         boolean NOT NULL DEFAULT true
);

CREATE TABLE IF NOT EXISTS subscriptions (
    subscription_id  bigint PRIMARY KEY,
    customer_id      bigint NOT NULL,
    plan_id          integer NOT NULL REFERENCES plans,
    status           text NOT NULL CHECK (status IN ('trial', 'active', 'paused', 'cancelled')),
    started_at       timestamptz NOT NULL,
    cancelled_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    handover         integer NOT NULL DEFAULT 0,  -- how many times the subscription has changed hands
    moved_to         text               -- set when it went back to the monolith (a rollback)
);
CREATE INDEX IF NOT EXISTS subscriptions_customer ON subscriptions (customer_id);

CREATE TABLE IF NOT EXISTS payments (
    payment_id       bigint PRIMARY KEY,
    subscription_id  bigint NOT NULL REFERENCES subscriptions ON DELETE CASCADE,
    amount_cents     integer NOT NULL,
    currency         char(3) NOT NULL,
    status           text NOT NULL CHECK (status IN ('succeeded', 'failed', 'refunded')),
    paid_at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_subscription ON payments (subscription_id);
-- The service's payments are numbered far from the monolith's, so a rollback can copy them back.
CREATE SEQUENCE IF NOT EXISTS payments_payment_id_seq START 1000000000;

CREATE TABLE IF NOT EXISTS outbox (
    id             uuid PRIMARY KEY,
    aggregatetype  text NOT NULL,
    aggregateid    text NOT NULL,
    type           text NOT NULL,
    payload        text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- The routing facade's table: which system owns the subscriptions of the customers in each bucket
-- (customer_id % 100). Moving a bucket copies its subscriptions here and flips its row, in one
-- two-phase commit with the monolith.
CREATE TABLE IF NOT EXISTS routes (
    bucket    integer PRIMARY KEY CHECK (bucket BETWEEN 0 AND 99),
    owner     text NOT NULL CHECK (owner IN ('monolith', 'service')),
    moved_at  timestamptz
);
INSERT INTO routes (bucket, owner) SELECT b, 'monolith' FROM generate_series(0, 99) AS b ON CONFLICT DO NOTHING;

-- The migration's phase: none (nothing moved yet), running, finished (the monolith no longer owns any
-- subscription and the product's monolith input is retired) or rolled back.
CREATE TABLE IF NOT EXISTS migration (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    phase       text NOT NULL CHECK (phase IN ('none', 'running', 'finished', 'rolled back')),
    changed_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO migration (phase) VALUES ('none') ON CONFLICT DO NOTHING;
