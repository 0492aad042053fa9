-- Log job state changes from triggers, so a compare-and-set is one statement
-- (UPDATE … WHERE state IN (…) RETURNING *) and the event row can never be forgotten.
-- ``event_detail`` carries the reason of the change into the trigger.

ALTER TABLE jobs ADD COLUMN event_detail TEXT;

CREATE TRIGGER jobs_log_insert AFTER INSERT ON jobs
BEGIN
    INSERT INTO job_events (job_id, from_state, to_state, at, detail)
    VALUES (NEW.id, NULL, NEW.state, NEW.updated_at, NEW.event_detail);
END;

-- Fires for every UPDATE that sets ``state`` (all transitions do; plain field updates do not),
-- including delivering → delivering when a delivery is re-claimed.
CREATE TRIGGER jobs_log_state AFTER UPDATE OF state ON jobs
BEGIN
    INSERT INTO job_events (job_id, from_state, to_state, at, detail)
    VALUES (NEW.id, OLD.state, NEW.state, NEW.updated_at, NEW.event_detail);
END;
