-- Every submit counts the server's active jobs and the member's jobs today inside the write
-- transaction, and /kling jobs lists a server's or a member's latest jobs: index them so that
-- their cost follows what they return, not the server's whole history.

-- Jobs queued here or running at Kling (they hold, or will hold, one of Kling's slots). Only those
-- rows are in this partial index; a query can use it only when its WHERE spells the same state
-- list (``ACTIVE_JOBS`` in bot/storage/jobs.py).
CREATE INDEX jobs_active_by_guild ON jobs (guild_id, requester_id, state)
    WHERE state IN ('queued', 'submitting', 'submitted', 'processing');

-- One member's jobs in a server, newest last: their latest jobs (read backwards) and their jobs
-- since the start of the day (the daily limit).
CREATE INDEX jobs_by_guild_member_created ON jobs (guild_id, requester_id, created_at);
