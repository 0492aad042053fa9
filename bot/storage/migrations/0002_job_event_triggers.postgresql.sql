-- PostgreSQL twin of 0002_job_event_triggers.sqlite.sql: the same two triggers, as PL/pgSQL.
-- Log job state changes from triggers, so a compare-and-set is one statement
-- (UPDATE … WHERE state IN (…) RETURNING *) and the event row can never be forgotten.

ALTER TABLE jobs ADD COLUMN event_detail TEXT;

CREATE FUNCTION jobs_log_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_events (job_id, from_state, to_state, at, detail)
    VALUES (NEW.id, NULL, NEW.state, NEW.updated_at, NEW.event_detail);
    RETURN NULL;
END;
$$;

CREATE FUNCTION jobs_log_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_events (job_id, from_state, to_state, at, detail)
    VALUES (NEW.id, OLD.state, NEW.state, NEW.updated_at, NEW.event_detail);
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_log_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_log_insert();

-- Fires for every UPDATE that sets ``state`` (all transitions do; plain field updates do not),
-- including delivering → delivering when a delivery is re-claimed.
CREATE TRIGGER jobs_log_state AFTER UPDATE OF state ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_log_state();
