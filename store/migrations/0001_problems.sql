-- Foundation: problem sources, problems, ingest log, rejects and the run manifest table.

CREATE TABLE sources (
    name              VARCHAR PRIMARY KEY,
    format            VARCHAR NOT NULL,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    last_ingest_id    BIGINT
);

CREATE SEQUENCE ingest_id_seq START 1;

-- One row per `distill ingest` call: what was read, with which options, and what it changed.
CREATE TABLE ingests (
    ingest_id         BIGINT PRIMARY KEY DEFAULT nextval('ingest_id_seq'),
    source            VARCHAR NOT NULL,
    format            VARCHAR NOT NULL,
    path              VARCHAR NOT NULL,
    files             JSON NOT NULL,          -- [{path, sha256, records}]
    options           JSON NOT NULL,          -- field mapping, skip_invalid, ...
    inserted          INTEGER NOT NULL,
    updated           INTEGER NOT NULL,
    unchanged         INTEGER NOT NULL,
    rejected          INTEGER NOT NULL,
    distill_version   VARCHAR NOT NULL,
    started_at        TIMESTAMP NOT NULL,
    finished_at       TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE problems (
    problem_id        VARCHAR PRIMARY KEY,    -- '<source>/<natural key>': stable across re-ingests
    source            VARCHAR NOT NULL,
    natural_key       VARCHAR NOT NULL,       -- 'year/section/question_N', a unique_id, an id field, ...
    year              INTEGER,
    section           VARCHAR,
    question_id       VARCHAR,
    subject           VARCHAR,
    level             INTEGER,
    question          VARCHAR,
    answer            VARCHAR NOT NULL,
    solution          VARCHAR,
    question_hash     VARCHAR NOT NULL,       -- sha256 of the normalised question text
    status            VARCHAR NOT NULL CHECK (status IN ('ok', 'placeholder')),
    status_reason     VARCHAR,                -- why a placeholder is one
    duplicate_of      VARCHAR,                -- first occurrence of the same normalised question
    metadata          JSON,
    origin            VARCHAR NOT NULL,       -- file and record locator it came from
    ingest_order      BIGINT NOT NULL,        -- defines "first occurrence"
    ingest_id         BIGINT NOT NULL,        -- the ingest that created it
    updated_ingest_id BIGINT,                 -- the latest ingest that changed it (see problem_updates)
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at        TIMESTAMP
);

-- Every change a re-ingest made to an existing problem (a changed answer is an update, never silent).
CREATE TABLE problem_updates (
    problem_id        VARCHAR NOT NULL,
    ingest_id         BIGINT NOT NULL,
    field             VARCHAR NOT NULL,
    old_value         VARCHAR,
    new_value         VARCHAR,
    changed_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Records refused by `--skip-invalid` ingests, with the reason; the latest ingest that saw each.
CREATE TABLE ingest_rejects (
    source            VARCHAR NOT NULL,
    path              VARCHAR NOT NULL,
    locator           VARCHAR NOT NULL,       -- 'line 12', 'section/question_3', '(file)'
    field             VARCHAR NOT NULL,       -- '' when the whole record or file is unreadable
    reason            VARCHAR NOT NULL,
    raw               VARCHAR,
    ingest_id         BIGINT NOT NULL,
    PRIMARY KEY (source, path, locator, field)
);

-- Runs of later stages (corpus, levels, training, evaluation): each with its resolved manifest.
CREATE TABLE runs (
    run_name          VARCHAR PRIMARY KEY,
    kind              VARCHAR NOT NULL,
    status            VARCHAR NOT NULL DEFAULT 'created',
    manifest          JSON NOT NULL,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at        TIMESTAMP
);

CREATE VIEW problem_counts AS
SELECT
    source,
    year,
    section,
    count(*)                                                        AS problems,
    count(*) FILTER (WHERE status = 'ok' AND duplicate_of IS NULL)  AS usable,
    count(*) FILTER (WHERE status = 'ok' AND duplicate_of IS NOT NULL) AS duplicates,
    count(*) FILTER (WHERE status = 'placeholder')                  AS placeholders
FROM problems
GROUP BY ALL;

-- Problems later stages use by default: no placeholders.
CREATE VIEW active_problems AS
SELECT * FROM problems WHERE status = 'ok';
