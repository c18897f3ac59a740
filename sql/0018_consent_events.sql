-- Consent with history: every change of a person's training consent, with its time. A
-- dataset uses an interaction (or feedback) only when it was made while consent was on,
-- and only while it is still on (fitsense_core/consented.py): answers from before
-- opting in, or from a spell of opting out, never reach training.

CREATE TABLE consent_events (
    id         BIGSERIAL PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    consented  BOOLEAN NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX consent_events_user_time_idx ON consent_events (user_id, changed_at DESC, id DESC);

-- Whatever changes users.training_consent (the API, an operator) leaves an event.
CREATE FUNCTION record_consent_event() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.training_consent THEN
            INSERT INTO consent_events (user_id, consented, changed_at)
            VALUES (NEW.id, true, coalesce(NEW.training_consent_changed_at, now()));
        END IF;
    ELSIF NEW.training_consent IS DISTINCT FROM OLD.training_consent THEN
        -- The time the change states, else (a change that left it as it was) now.
        INSERT INTO consent_events (user_id, consented, changed_at)
        VALUES (NEW.id, NEW.training_consent,
                CASE WHEN NEW.training_consent_changed_at
                          IS DISTINCT FROM OLD.training_consent_changed_at
                     THEN coalesce(NEW.training_consent_changed_at, now())
                     ELSE now() END);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_consent_events
    AFTER INSERT OR UPDATE OF training_consent ON users
    FOR EACH ROW EXECUTE FUNCTION record_consent_event();

-- What was known before: a person who consents now did so since their last change.
INSERT INTO consent_events (user_id, consented, changed_at)
SELECT id, true, training_consent_changed_at FROM users WHERE training_consent;

-- Whether consent was on for this person at this moment (their newest change at or
-- before it said so).
CREATE FUNCTION consented_at(person UUID, moment TIMESTAMPTZ) RETURNS boolean AS $$
    SELECT coalesce((
        SELECT e.consented FROM consent_events e
        WHERE e.user_id = person AND e.changed_at <= moment
        ORDER BY e.changed_at DESC, e.id DESC LIMIT 1), false)
$$ LANGUAGE sql STABLE;
