-- PostgreSQL twin of 0004_bot_secrets.sqlite.sql (timestamps are DOUBLE PRECISION here).
-- Secrets the bot makes for itself and must keep across restarts, by name (e.g. the key that
-- signs web picker links). Written once; never shown in logs or messages.

CREATE TABLE bot_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
