-- The legacy "subscriptions" monolith: the operational database the subscriptions domain is
-- migrating away from (strangler fig). Its changes are captured by Debezium, never queried directly.
-- Idempotent: `mesh cdc start` runs it on every start.

CREATE TABLE IF NOT EXISTS plans (
    plan_id        integer PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    monthly_cents  integer NOT NULL CHECK (monthly_cents >= 0),
    currency       char(3) NOT NULL DEFAULT 'EUR',
    max_streams    integer NOT NULL CHECK (max_streams > 0),
    active         boolean NOT NULL DEFAULT true
);

CREATE TABLE IF NOT EXISTS customers (
    customer_id       bigint PRIMARY KEY,
    email             text NOT NULL UNIQUE,
    phone             text,
    full_name         text NOT NULL,
    country           char(2) NOT NULL,
    birth_year        integer,
    marketing_opt_in  boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Added after the first release: a database made before it gains the column (empty for its customers).
ALTER TABLE customers ADD COLUMN IF NOT EXISTS phone text;

CREATE TABLE IF NOT EXISTS subscriptions (
    subscription_id  bigint PRIMARY KEY,
    customer_id      bigint NOT NULL REFERENCES customers ON DELETE CASCADE,
    plan_id          integer NOT NULL REFERENCES plans,
    status           text NOT NULL CHECK (status IN ('trial', 'active', 'paused', 'cancelled')),
    started_at       timestamptz NOT NULL,
    cancelled_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS payments (
    payment_id       bigint PRIMARY KEY,
    subscription_id  bigint NOT NULL REFERENCES subscriptions ON DELETE CASCADE,
    amount_cents     integer NOT NULL,
    currency         char(3) NOT NULL,
    status           text NOT NULL CHECK (status IN ('succeeded', 'failed', 'refunded')),
    paid_at          timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS subscriptions_customer ON subscriptions (customer_id);
CREATE INDEX IF NOT EXISTS payments_subscription ON payments (subscription_id);

-- Deletes and updates carry the whole old row, so the change history is complete.
ALTER TABLE plans REPLICA IDENTITY FULL;
ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE subscriptions REPLICA IDENTITY FULL;
ALTER TABLE payments REPLICA IDENTITY FULL;
