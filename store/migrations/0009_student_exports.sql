-- Students exported for use outside distill (`distill student export`): the kept adapter of one training run
-- fused into its base as an MLX folder or a GGUF file, or the adapter alone as a PEFT folder. (The `exports`
-- table of 0004 is the training data written for mlx-lm; this one is what training produced.)

CREATE SEQUENCE student_export_id_seq START 1;

CREATE TABLE student_exports (
    student_export_id BIGINT PRIMARY KEY DEFAULT nextval('student_export_id_seq'),
    training_id       BIGINT NOT NULL,        -- training_runs.training_id
    run_name          VARCHAR NOT NULL,
    level             VARCHAR NOT NULL,
    split_seed        INTEGER NOT NULL,
    seed              INTEGER NOT NULL,
    format            VARCHAR NOT NULL CHECK (format IN ('mlx', 'gguf', 'peft')),
    dtype             VARCHAR,                -- 'f16' or 'f32' for gguf; 'f32' for mlx; NULL for peft
    path              VARCHAR NOT NULL,       -- the folder (mlx, peft) or file (gguf) written
    base_model        VARCHAR NOT NULL,       -- the base model directory the adapter was trained on
    adapter_dir       VARCHAR NOT NULL,
    adapter_sha256    VARCHAR NOT NULL,       -- of adapters.safetensors when it was exported
    best_iteration    INTEGER,                -- the kept adapter's iteration
    training_status   VARCHAR NOT NULL,       -- the training run's status when it was exported
    files             JSON NOT NULL,          -- {name: {sha256, bytes}} of what was written
    details           JSON NOT NULL,          -- format specifics: source GGUF, lora_alpha, target modules, ...
    seconds           DOUBLE NOT NULL,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);
