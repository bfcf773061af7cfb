-- Training: leak-free splits of a corpus run, the mlx-lm JSONL exports made from them, LoRA training runs
-- (one per run x level x split seed x training seed) with every reported loss, and the adapters they keep.

-- How a run's problems were split (one row per split seed): fractions, sources and counts.
CREATE TABLE split_sets (
    run_name          VARCHAR NOT NULL,       -- the corpus run
    split_seed        INTEGER NOT NULL,
    valid_fraction    DOUBLE NOT NULL,        -- of the problems with training text outside test
    test_fraction     DOUBLE NOT NULL,        -- of all active problems of the run's sources
    sources           JSON NOT NULL,          -- the sources whose active problems were split
    counts            JSON NOT NULL,          -- {train, valid, test, unused}
    leaks             INTEGER NOT NULL,       -- contamination pairs found when it was made
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at        TIMESTAMP,
    PRIMARY KEY (run_name, split_seed)
);

-- Every active problem of the run's sources, in exactly one split. A duplicate cluster (problems linked by
-- duplicate_of to one first occurrence) is always in one split. 'unused': not test and no training text.
CREATE TABLE splits (
    run_name          VARCHAR NOT NULL,
    split_seed        INTEGER NOT NULL,
    problem_id        VARCHAR NOT NULL,
    split             VARCHAR NOT NULL CHECK (split IN ('train', 'valid', 'test', 'unused')),
    cluster_id        VARCHAR NOT NULL,       -- the cluster's first occurrence (problems.duplicate_of or itself)
    representative    BOOLEAN NOT NULL,       -- the first member of its cluster in this split set
    stratum           VARCHAR NOT NULL,       -- 'source/section' (or 'source/subject')
    has_text          BOOLEAN NOT NULL,       -- the run has training text (a corpus row) for it
    PRIMARY KEY (run_name, split_seed, problem_id)
);

-- n-gram overlap between a training (train or valid) question and a test or MATH-500 question.
CREATE TABLE contamination (
    run_name          VARCHAR NOT NULL,
    split_seed        INTEGER NOT NULL,
    problem_id        VARCHAR NOT NULL,       -- the train/valid problem
    other_id          VARCHAR NOT NULL,       -- the test or MATH-500 problem it overlaps
    against           VARCHAR NOT NULL CHECK (against IN ('test', 'math500')),
    shared_ngrams     INTEGER NOT NULL,
    example           VARCHAR NOT NULL,       -- one shared n-gram
    checked_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_name, split_seed, problem_id, other_id, against)
);

CREATE SEQUENCE export_id_seq START 1;

-- mlx-lm chat JSONL written for one (run, split seed, level): the folder, each file's sha256 and rows.
CREATE TABLE exports (
    export_id         BIGINT PRIMARY KEY DEFAULT nextval('export_id_seq'),
    run_name          VARCHAR NOT NULL,
    split_seed        INTEGER NOT NULL,
    level             VARCHAR NOT NULL,
    text_source       VARCHAR NOT NULL CHECK (text_source IN ('levels', 'corpus')),
    folder            VARCHAR NOT NULL,
    files             JSON NOT NULL,          -- {train: {path, sha256, rows}, valid: ..., test: ...}
    train_rows        INTEGER NOT NULL,
    valid_rows        INTEGER NOT NULL,
    test_rows         INTEGER NOT NULL,       -- test problems with text at this level (all test ids: splits)
    missing_text      JSON NOT NULL,          -- {split: problems of that split without text at this level}
    leaks             INTEGER NOT NULL,
    allow_leaks       BOOLEAN NOT NULL,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE training_id_seq START 1;

-- One LoRA training per (run, level, split seed, seed); a rerun resumes it.
CREATE TABLE training_runs (
    training_id       BIGINT PRIMARY KEY DEFAULT nextval('training_id_seq'),
    run_name          VARCHAR NOT NULL,
    level             VARCHAR NOT NULL,
    split_seed        INTEGER NOT NULL,
    seed              INTEGER NOT NULL,
    export_id         BIGINT NOT NULL,
    model             VARCHAR NOT NULL,       -- the base model directory
    adapter_dir       VARCHAR NOT NULL,       -- mlx_lm.load(model, adapter_path=adapter_dir): the best adapter
    config            JSON NOT NULL,          -- the resolved training config
    manifest          JSON NOT NULL,          -- data hashes, token lengths, memory estimate, packages, git sha
    status            VARCHAR NOT NULL CHECK (status IN ('running', 'interrupted', 'finished', 'early_stopped',
                                                         'failed')),
    iters             INTEGER NOT NULL,
    last_iteration    INTEGER NOT NULL DEFAULT 0,
    best_iteration    INTEGER,
    best_val_loss     DOUBLE,
    max_seq_length    INTEGER NOT NULL,
    truncated_train   INTEGER NOT NULL,
    truncated_valid   INTEGER NOT NULL,
    memory_estimate   BIGINT,                 -- bytes, the pre-flight estimate
    peak_memory       BIGINT,                 -- bytes, MLX's peak
    seconds           DOUBLE,                 -- training wall time, over all resumes
    error             VARCHAR,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at        TIMESTAMP,
    UNIQUE (run_name, level, split_seed, seed)
);

-- Every reported loss: 'train' averaged over the steps since the previous report, 'valid' over the whole
-- validation set (or val_batches), both after `iteration` optimizer updates.
CREATE TABLE training_losses (
    training_id       BIGINT NOT NULL,
    split             VARCHAR NOT NULL CHECK (split IN ('train', 'valid')),
    iteration         INTEGER NOT NULL,
    loss              DOUBLE NOT NULL,
    tokens            BIGINT,
    learning_rate     DOUBLE,
    iterations_per_second DOUBLE,
    tokens_per_second DOUBLE,
    peak_memory_gb    DOUBLE,
    PRIMARY KEY (training_id, split, iteration)
);

-- What evaluation needs: the kept (best-validation) adapter per run, level, split seed and seed.
CREATE VIEW adapters AS
SELECT run_name, level, split_seed, seed, model, adapter_dir, best_iteration, best_val_loss, last_iteration,
       status, training_id
FROM training_runs
WHERE best_iteration IS NOT NULL;

-- The held-out problems of each split set (all of them, with or without training text).
CREATE VIEW test_problems AS
SELECT s.run_name, s.split_seed, s.problem_id, s.cluster_id, s.representative, s.stratum, p.question, p.answer
FROM splits s JOIN problems p USING (problem_id)
WHERE s.split = 'test';
