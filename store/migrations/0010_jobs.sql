-- Jobs of the service (`distill serve`): a study or one stage, submitted with its validated config, run in the
-- service's process. A job that was running when the service died is resumed when it starts again (the stages
-- resume from their stored calls and checkpoints). The config holds API key *names* only, never keys.

CREATE SEQUENCE job_id_seq START 1;

CREATE TABLE jobs (
    job_id            BIGINT PRIMARY KEY DEFAULT nextval('job_id_seq'),
    kind              VARCHAR NOT NULL,       -- study | ingest | corpus | levels | split | train | eval | report
    run_name          VARCHAR NOT NULL,
    config            JSON NOT NULL,          -- the validated table(s), as submitted
    status            VARCHAR NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    stage             VARCHAR,                -- what it is doing now (a study's stage, a progress bar's title)
    progress          JSON,                   -- done, total, outcome counts, tokens, rate, ETA of the stage
    result            VARCHAR,                -- a one-line summary when done
    error             VARCHAR,                -- why it failed
    log               VARCHAR,                -- its last log lines (at most 400)
    starts            INTEGER NOT NULL DEFAULT 0, -- 1 + how many times it was resumed after a service restart
    submitted_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP
);
