-- Several processes may share one database (SPEC §11): before any Kling or Discord call for a job,
-- a process claims it with a conditional UPDATE of its owner and a lease that expires, renewed
-- while the process lives (bot/storage/claims.py). NULL: nobody holds the job.
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
ALTER TABLE jobs ADD COLUMN claim_until DOUBLE PRECISION;

-- One owner's claims (renewed together, released together at a clean stop).
CREATE INDEX jobs_by_claimer ON jobs (claimed_by) WHERE claimed_by IS NOT NULL;
-- Jobs in flight that nobody holds or whose lease ran out (looked for by every process).
CREATE INDEX jobs_by_state_claim ON jobs (state, claim_until);
