-- Sessions, points, masks, jobs with their event log, server settings.
-- Timestamps are Unix seconds (REAL, UTC). Discord ids are INTEGER (snowflakes fit in 63 bits).

CREATE TABLE sessions (
    id                   INTEGER PRIMARY KEY,
    guild_id             INTEGER NOT NULL,
    channel_id           INTEGER NOT NULL,  -- a thread id when the session lives in a thread
    created_by           INTEGER NOT NULL,
    status               TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    source_message_id    INTEGER,
    source_url           TEXT,
    source_attachment_id INTEGER,
    local_path           TEXT,
    fps                  REAL    NOT NULL,
    width                INTEGER NOT NULL,
    height               INTEGER NOT NULL,
    total_frame          INTEGER NOT NULL,
    duration             REAL    NOT NULL,
    kling_session_id     TEXT,
    kling_expires_at     REAL,
    normalized_video     TEXT,
    current_frame        INTEGER NOT NULL DEFAULT 0,
    board_message_id     INTEGER,
    created_at           REAL    NOT NULL,
    ended_at             REAL
);
-- The "one active session per channel" rule lives in the schema, not only in code.
CREATE UNIQUE INDEX sessions_one_active_per_channel
    ON sessions (guild_id, channel_id) WHERE status = 'active';
CREATE INDEX sessions_by_board ON sessions (board_message_id);

CREATE TABLE points (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    frame_index INTEGER NOT NULL CHECK (frame_index >= 0),
    x           REAL    NOT NULL,  -- the exact floats sent to Kling: delete-selection must match
    y           REAL    NOT NULL,
    added_by    INTEGER NOT NULL,
    added_at    REAL    NOT NULL,
    ordinal     INTEGER NOT NULL,  -- replay order when a new Kling session is started
    UNIQUE (session_id, ordinal)
);
CREATE INDEX points_by_frame ON points (session_id, frame_index);

CREATE TABLE frame_masks (
    session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    frame_index INTEGER NOT NULL,
    masks_json  TEXT    NOT NULL,  -- rle_mask_list as last returned by Kling
    updated_at  REAL    NOT NULL,
    PRIMARY KEY (session_id, frame_index)
);

CREATE TABLE jobs (
    id                TEXT    PRIMARY KEY,  -- uuid4 hex, also Kling's external_task_id
    kind              TEXT    NOT NULL
        CHECK (kind IN ('edit_removal', 'edit_swap', 'edit_addition', 'animate')),
    guild_id          INTEGER NOT NULL,
    channel_id        INTEGER NOT NULL,
    requester_id      INTEGER NOT NULL,
    session_id        INTEGER REFERENCES sessions (id) ON DELETE SET NULL,
    request_json      TEXT    NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN ('queued', 'submitting', 'submitted',
        'processing', 'succeeded', 'failed', 'delivering', 'delivered', 'cancelled')),
    kling_task_id     TEXT    UNIQUE,
    status_msg        TEXT,
    card_message_id   INTEGER,
    queued_at         REAL,     -- FIFO key of the local queue (kept when 1303 sends a job back)
    submit_attempts   INTEGER NOT NULL DEFAULT 0,
    units             REAL,     -- final_unit_deduction
    result_url        TEXT,
    result_path       TEXT,
    result_message_id INTEGER,
    delivery_key      TEXT,
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    created_at        REAL    NOT NULL,
    submitted_at      REAL,     -- when Kling accepted it: usage counts only these
    finished_at       REAL,
    delivered_at      REAL,
    updated_at        REAL    NOT NULL
);
CREATE INDEX jobs_in_flight ON jobs (state)
    WHERE state NOT IN ('failed', 'delivered', 'cancelled');
CREATE INDEX jobs_by_guild_created ON jobs (guild_id, created_at);
CREATE INDEX jobs_by_guild_submitted ON jobs (guild_id, submitted_at);
CREATE INDEX jobs_by_session ON jobs (session_id);
CREATE INDEX jobs_by_kind_finished ON jobs (kind, state, finished_at);

CREATE TABLE job_events (
    id         INTEGER PRIMARY KEY,
    job_id     TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    from_state TEXT,
    to_state   TEXT    NOT NULL,
    at         REAL    NOT NULL,
    detail     TEXT
);
CREATE INDEX job_events_by_job ON job_events (job_id, id);

CREATE TABLE guild_settings (
    guild_id                  INTEGER PRIMARY KEY,
    submit_role_id            INTEGER,
    daily_jobs_per_member     INTEGER,
    concurrent_jobs_per_guild INTEGER,
    default_mode              TEXT    NOT NULL CHECK (default_mode IN ('std', 'pro')),
    pro_allowed               INTEGER NOT NULL,
    confirm_submits           INTEGER NOT NULL,
    sessions_in_threads       INTEGER NOT NULL,
    updated_at                REAL    NOT NULL
);

CREATE TABLE disabled_channels (
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);
