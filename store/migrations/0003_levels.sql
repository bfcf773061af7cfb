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
    attempts          INTEGER NOT NULL DEFAULT 1,
    reason            VARCHAR,                -- why it failed (longer than the previous level, wrong answer, cut off)
    call_key          VARCHAR,                -- the compressor call that produced it (NULL for R1)
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_name, problem_id, level)
);
