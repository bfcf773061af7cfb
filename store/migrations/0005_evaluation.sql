-- Evaluation: base, teacher and student models answer a problem set (a run's held-out test split, or MATH-500);
-- every answer is graded by the rule and, only where the rule cannot decide, by an optional LLM judge.
-- Outputs cut at max_tokens are 'truncated': counted apart, never graded.

CREATE SEQUENCE evaluation_id_seq START 1;

-- One evaluated model (a base model, the teacher, or a student adapter of one level and training seed) on the
-- problem set of (run, split, split seed). A rerun with other settings is refused unless restarted.
CREATE TABLE evaluations (
    evaluation_id     BIGINT PRIMARY KEY DEFAULT nextval('evaluation_id_seq'),
    run_name          VARCHAR NOT NULL,       -- the corpus run whose test split (or MATH-500 sample) is answered
    split             VARCHAR NOT NULL CHECK (split IN ('test', 'math500')),
    split_seed        INTEGER NOT NULL,       -- test: the split set; math500: the sampling seed
    label             VARCHAR NOT NULL,       -- 'base', 'teacher', 'student:<training run>/<level>'
    kind              VARCHAR NOT NULL CHECK (kind IN ('base', 'teacher', 'student')),
    training_run      VARCHAR,                -- students: the run the adapter was trained on
    level             VARCHAR,                -- students: R1..R6
    seed              INTEGER NOT NULL,       -- students: the training seed; base and teacher: 0 (one greedy run)
    model             VARCHAR NOT NULL,       -- the MLX model directory, or the endpoint's model identity
    adapter_dir       VARCHAR,                -- students: the best-validation adapter
    best_iteration    INTEGER,
    training_id       BIGINT,
    settings          JSON NOT NULL,          -- what decides the answers (max_tokens, temperature, prompt, adapter sha256)
    manifest          JSON NOT NULL,          -- base URL, packages, git sha (never an API key)
    generation_seconds DOUBLE,                -- MLX: wall time of all batches so far
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at        TIMESTAMP,
    UNIQUE (run_name, split, split_seed, label, seed)
);

-- One answer per evaluation x problem, with the rule's verdict on its extracted final answer.
CREATE TABLE eval_items (
    evaluation_id     BIGINT NOT NULL,
    problem_id        VARCHAR NOT NULL,
    response          VARCHAR NOT NULL,       -- the reply as generated ('' when empty)
    reasoning         VARCHAR,                -- endpoints that return the trace apart (reasoning_content)
    answer            VARCHAR,                -- the extracted final answer
    answer_method     VARCHAR NOT NULL,       -- boxed | answer_line | final_expression | none
    truncated         BOOLEAN NOT NULL,       -- cut at max_tokens: counted apart, never graded
    finish_reason     VARCHAR,                -- stop | length (endpoints: as reported)
    rule_verdict      VARCHAR NOT NULL CHECK (rule_verdict IN ('correct', 'incorrect', 'undecided')),
    rule_reason       VARCHAR,
    rule_compared     VARCHAR,                -- the normalised answer the rule compared
    words             INTEGER NOT NULL,       -- whitespace-separated words of the response
    prompt_tokens     INTEGER,
    tokens            INTEGER,                -- generated tokens (the model's own tokenizer)
    latency_ms        DOUBLE,                 -- endpoints: the request; MLX: the whole batch it was generated in
    batch_size        INTEGER,                -- MLX: how many answers that batch generated together
    call_key          VARCHAR,                -- endpoints: the keyed call
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    graded_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,  -- when the rule last graded it
    PRIMARY KEY (evaluation_id, problem_id)
);

-- LLM judge verdicts, asked only where the rule was undecided; every call kept with its reply.
CREATE TABLE eval_judgements (
    call_key          VARCHAR PRIMARY KEY,
    evaluation_id     BIGINT NOT NULL,
    problem_id        VARCHAR NOT NULL,
    model             VARCHAR NOT NULL,
    params            JSON NOT NULL,
    prompt_version    VARCHAR NOT NULL,
    messages          JSON NOT NULL,
    content           VARCHAR,
    verdict           VARCHAR NOT NULL CHECK (verdict IN ('correct', 'incorrect', 'unparseable')),
    reason            VARCHAR,
    finish_reason     VARCHAR,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    latency_ms        DOUBLE,
    retries           INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Every answer with its final outcome: the rule when it decided, else the newest parseable judge verdict, else
-- 'undecided'; 'truncated' when cut at max_tokens. Never silently correct.
CREATE VIEW eval_results AS
WITH judged AS (
    SELECT evaluation_id, problem_id, verdict, reason, model
    FROM eval_judgements WHERE verdict IN ('correct', 'incorrect')
    QUALIFY row_number() OVER (PARTITION BY evaluation_id, problem_id ORDER BY created_at DESC, call_key) = 1
)
SELECT
    e.evaluation_id, e.run_name, e.split, e.split_seed, e.label, e.kind, e.training_run, e.level, e.seed,
    i.problem_id, p.source, p.year, p.section, p.subject, p.level AS difficulty, p.answer AS gold,
    i.answer, i.answer_method, i.truncated, i.rule_verdict, i.rule_reason, j.verdict AS judge_verdict,
    j.reason AS judge_reason, j.model AS judge_model,
    CASE WHEN i.truncated THEN 'truncated'
         WHEN i.rule_verdict <> 'undecided' THEN i.rule_verdict
         WHEN j.verdict IS NOT NULL THEN j.verdict
         ELSE 'undecided' END AS outcome,
    CASE WHEN i.truncated THEN NULL
         WHEN i.rule_verdict <> 'undecided' THEN 'rule'
         WHEN j.verdict IS NOT NULL THEN 'judge' END AS decided_by,
    i.words, i.tokens, i.latency_ms
FROM eval_items i
JOIN evaluations e USING (evaluation_id)
JOIN problems p USING (problem_id)
LEFT JOIN judged j USING (evaluation_id, problem_id);

-- Accuracy per evaluation (model x level x seed): correct over all answered problems; undecided and truncated
-- answers are not correct and are counted apart.
CREATE VIEW eval_accuracy AS
SELECT
    evaluation_id, run_name, split, split_seed, label, kind, training_run, level, seed,
    count(*)                                                AS problems,
    count(*) FILTER (WHERE outcome = 'correct')             AS correct,
    count(*) FILTER (WHERE outcome = 'incorrect')           AS incorrect,
    count(*) FILTER (WHERE outcome = 'undecided')           AS undecided,
    count(*) FILTER (WHERE outcome = 'truncated')           AS truncated,
    count(*) FILTER (WHERE decided_by = 'judge')            AS judged,
    count(*) FILTER (WHERE outcome = 'correct') / count(*)  AS accuracy,
    avg(words)                                              AS mean_words,
    avg(tokens)                                             AS mean_tokens
FROM eval_results
GROUP BY ALL;

-- Mean and sample standard deviation across training seeds, per model (label); base and teacher have one seed.
CREATE VIEW eval_model_summary AS
SELECT
    run_name, split, split_seed, label, kind, training_run, level,
    count(*)                    AS seeds,
    min(problems)               AS min_problems,
    max(problems)               AS max_problems,
    avg(accuracy)               AS mean_accuracy,
    stddev_samp(accuracy)       AS std_accuracy,   -- NULL with one seed
    sum(undecided)              AS undecided,
    sum(truncated)              AS truncated,
    avg(mean_words)             AS mean_words,
    avg(mean_tokens)            AS mean_tokens
FROM eval_accuracy
GROUP BY ALL;

-- O'Bryan-style breakdown: per evaluation, by source, year and section.
CREATE VIEW eval_accuracy_by_section AS
SELECT
    evaluation_id, run_name, split, label, level, seed, source, year, section,
    count(*)                                                AS problems,
    count(*) FILTER (WHERE outcome = 'correct')             AS correct,
    count(*) FILTER (WHERE outcome = 'correct') / count(*)  AS accuracy,
    count(*) FILTER (WHERE outcome = 'truncated')           AS truncated,
    count(*) FILTER (WHERE outcome = 'undecided')           AS undecided
FROM eval_results
GROUP BY ALL;

-- MATH-500 breakdown: per evaluation, by subject and difficulty level (1-5).
CREATE VIEW eval_accuracy_by_subject AS
SELECT
    evaluation_id, run_name, split, label, level, seed, subject, difficulty,
    count(*)                                                AS problems,
    count(*) FILTER (WHERE outcome = 'correct')             AS correct,
    count(*) FILTER (WHERE outcome = 'correct') / count(*)  AS accuracy,
    count(*) FILTER (WHERE outcome = 'truncated')           AS truncated,
    count(*) FILTER (WHERE outcome = 'undecided')           AS undecided
FROM eval_results
WHERE subject IS NOT NULL
GROUP BY ALL;

-- Where grading is not settled by the rule alone: the rule and the judge disagree (an item judged while the
-- rule was undecided, that a newer rule decides the other way), the judge decided, or nobody decided.
CREATE VIEW grading_disagreements AS
WITH judged AS (
    SELECT evaluation_id, problem_id, verdict, reason, model, content
    FROM eval_judgements
    QUALIFY row_number() OVER (PARTITION BY evaluation_id, problem_id
                               ORDER BY verdict <> 'unparseable' DESC, created_at DESC, call_key) = 1
)
SELECT
    CASE WHEN i.rule_verdict <> 'undecided' AND j.verdict IN ('correct', 'incorrect')
              AND j.verdict <> i.rule_verdict THEN 'rule_vs_judge'
         WHEN i.rule_verdict = 'undecided' AND j.verdict IN ('correct', 'incorrect') THEN 'judge_decided'
         ELSE 'undecided' END AS kind,
    e.evaluation_id, e.run_name, e.split, e.label, e.seed, i.problem_id, p.answer AS gold, i.answer,
    i.rule_verdict, i.rule_reason, j.verdict AS judge_verdict, j.reason AS judge_reason, j.model AS judge_model,
    p.question
FROM eval_items i
JOIN evaluations e USING (evaluation_id)
JOIN problems p USING (problem_id)
LEFT JOIN judged j USING (evaluation_id, problem_id)
WHERE NOT i.truncated
  AND (i.rule_verdict = 'undecided'
       OR (j.verdict IN ('correct', 'incorrect') AND j.verdict <> i.rule_verdict));
