-- The customer-care team's CRM: contacts as agents and web forms typed them, with the CRM's own ids.
-- Its changes are captured by Debezium (crm.contacts), never queried directly. Idempotent.

CREATE TABLE IF NOT EXISTS contacts (
    contact_id  bigint PRIMARY KEY,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    email       text,
    phone       text,
    country     text,
    birth_date  date,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Deletes (erasures) and updates carry the whole old row, so the change history is complete.
ALTER TABLE contacts REPLICA IDENTITY FULL;

-- The generator's truth: which contact is which customer of the monolith (NULL: a contact who never
-- subscribed). Kept apart from the CRM's own tables and never captured: it is there to measure how well
-- the mesh matches, and nothing in the mesh may read it to match.
CREATE SCHEMA IF NOT EXISTS evaluation;
CREATE TABLE IF NOT EXISTS evaluation.contact_truth (
    contact_id   bigint PRIMARY KEY,
    customer_id  bigint
);
