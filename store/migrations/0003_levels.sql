-- Reasoning levels R1 (the accepted reasoning) .. R6 (one to three sentences) per accepted corpus row.
CREATE TABLE levels (
    run_name          VARCHAR NOT NULL,       -- the corpus run
    problem_id        VARCHAR NOT NULL,
    level             VARCHAR NOT NULL CHECK (level IN ('R1', 'R2', 'R3', 'R4', 'R5', 'R6')),
    status            VARCHAR NOT NULL CHECK (status IN ('ok', 'failed')),
    text              VARCHAR,                -- the reasoning at this level (NULL when failed)
    answer            VARCHAR,                -- the final answer it ends in
    words             INTEGER,
    tokens            INTEGER,                -- in the student's tokenizer
    target_words      INTEGER,                -- the word budget it was compressed toward
    source_level      VARCHAR,                -- the level it was compressed from (the last good one)
    attempts          INTEGER NOT NULL DEFAULT 1,
    reason            VARCHAR,                -- why it failed (not shorter, wrong answer, cut off, ...)
    call_key          VARCHAR,                -- the compressor call that produced it (NULL for R1)
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_name, problem_id, level)
);

-- Every compressor call, keyed like solver attempts, with the check its output got.
CREATE TABLE level_attempts (
    call_key          VARCHAR PRIMARY KEY,
    run_name          VARCHAR NOT NULL,
    problem_id        VARCHAR NOT NULL,
    level             VARCHAR NOT NULL,
    attempt           INTEGER NOT NULL,
    model             VARCHAR NOT NULL,
    params            JSON NOT NULL,
    prompt_version    VARCHAR NOT NULL,
    messages          JSON NOT NULL,
    content           VARCHAR,
    text              VARCHAR,                -- the content without a <think> block
    answer            VARCHAR,
    words             INTEGER,
    passed            BOOLEAN NOT NULL,
    reason            VARCHAR,                -- why the check failed
    finish_reason     VARCHAR,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    latency_ms        DOUBLE,
    retries           INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (run_name, problem_id, level, attempt)
);

CREATE VIEW level_summary AS
SELECT
    run_name, level,
    count(*) FILTER (WHERE status = 'ok')                   AS ok,
    count(*) FILTER (WHERE status = 'failed')               AS failed,
    round(avg(words) FILTER (WHERE status = 'ok'), 1)       AS mean_words,
    median(words) FILTER (WHERE status = 'ok')              AS median_words,
    round(avg(tokens) FILTER (WHERE status = 'ok'), 1)      AS mean_tokens,
    round(avg(attempts), 2)                                 AS mean_attempts
FROM levels
GROUP BY ALL;

CREATE VIEW level_summary_by_section AS
SELECT
    l.run_name, p.source, coalesce(p.section, p.subject) AS section, l.level,
    count(*) FILTER (WHERE l.status = 'ok')                 AS ok,
    count(*) FILTER (WHERE l.status = 'failed')             AS failed,
    round(avg(l.words) FILTER (WHERE l.status = 'ok'), 1)   AS mean_words,
    median(l.words) FILTER (WHERE l.status = 'ok')          AS median_words
FROM levels l JOIN problems p USING (problem_id)
GROUP BY ALL;

CREATE VIEW level_failures AS
SELECT l.run_name, l.problem_id, l.level, l.attempts, l.reason, p.section, p.question
FROM levels l JOIN problems p USING (problem_id)
WHERE l.status = 'failed';
