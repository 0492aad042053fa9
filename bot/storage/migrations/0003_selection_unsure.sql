-- A session's Kling selection may differ from its stored points: set before every selection
-- call that changes Kling's clicks and cleared in the transaction that stores the answer. While
-- set (also after a crash or a lost answer) the next action starts a new Kling session and
-- replays the stored points before doing anything else.

ALTER TABLE sessions ADD COLUMN selection_unsure INTEGER NOT NULL DEFAULT 0
    CHECK (selection_unsure IN (0, 1));
