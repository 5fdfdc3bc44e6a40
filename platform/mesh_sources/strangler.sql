-- What the monolith learns when its subscriptions start to leave it (`mesh migrate subscriptions
-- start`): each subscription says how often it changed hands and whether it lives elsewhere now, and
-- the monolith refuses to change a subscription it no longer owns. Idempotent.

ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS handover integer;  -- NULL: never moved (0)
ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS moved_to text;     -- set: the service owns it now

CREATE OR REPLACE FUNCTION refuse_moved_subscription() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'payments' THEN
        IF EXISTS (SELECT 1 FROM subscriptions WHERE subscription_id = NEW.subscription_id AND moved_to IS NOT NULL) THEN
            RAISE EXCEPTION 'subscription % has moved to the subscriptions service', NEW.subscription_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    ELSIF OLD.moved_to IS NOT NULL AND NEW.moved_to IS NOT DISTINCT FROM OLD.moved_to THEN
        RAISE EXCEPTION 'subscription % has moved to the subscriptions service', OLD.subscription_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS refuse_moved ON subscriptions;
CREATE TRIGGER refuse_moved BEFORE UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION refuse_moved_subscription();
DROP TRIGGER IF EXISTS refuse_moved_payment ON payments;
CREATE TRIGGER refuse_moved_payment BEFORE INSERT OR UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION refuse_moved_subscription();
