-- The corpus builder: every solver attempt, every verdict, each problem's outcome and the accepted corpus.
-- LLM results are keyed by a hash of (run, problem, role, attempt, prompt hash, model, params): a node that
-- is replayed after a crash finds its row and makes no second call.

CREATE TABLE attempts (
    call_key          VARCHAR PRIMARY KEY,
    run_name          VARCHAR NOT NULL,
    problem_id        VARCHAR NOT NULL,
    attempt           INTEGER NOT NULL,
    model             VARCHAR NOT NULL,
    base_url          VARCHAR NOT NULL,
    params            JSON NOT NULL,
    prompt_version    VARCHAR NOT NULL,       -- content hash of the solver prompt file
    messages          JSON NOT NULL,          -- the request as sent
    status            VARCHAR NOT NULL,       -- ok | length | empty | no_answer
    content           VARCHAR,
    reasoning         VARCHAR,                -- the trace (reasoning field or <think>), else the content
    reasoning_source  VARCHAR,                -- reasoning_field | think_tag | NULL (chain in the content)
    answer            VARCHAR,
    answer_method     VARCHAR,                -- boxed | answer_line | final_expression | none
    answer_source     VARCHAR,                -- content | trace (recovered from the trace)
    finish_reason     VARCHAR,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    latency_ms        DOUBLE,
    retries           INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (run_name, problem_id, attempt)
);

-- One rule verdict and (unless critic mode is 'rule') one critic verdict per attempt.
CREATE TABLE verdicts (
    verdict_key       VARCHAR PRIMARY KEY,
    run_name          VARCHAR NOT NULL,
    problem_id        VARCHAR NOT NULL,
    attempt           INTEGER NOT NULL,
    judge             VARCHAR NOT NULL CHECK (judge IN ('rule', 'critic')),
    verdict           VARCHAR NOT NULL,       -- rule: correct | incorrect | undecided; critic: accept | reject | unparseable
    decided           BOOLEAN NOT NULL,       -- whether this verdict decided the attempt's fate
    reason            VARCHAR,
    compared          VARCHAR,                -- rule: the normalised answer it compared
    raw               VARCHAR,                -- critic: its full reply
    model             VARCHAR,
    params            JSON,
    prompt_version    VARCHAR,
    messages          JSON,
    finish_reason     VARCHAR,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    latency_ms        DOUBLE,
    retries           INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (run_name, problem_id, attempt, judge)
);

-- How each problem of a run ended. 'failed' (the endpoint failed for good) is retried by the next run.
CREATE TABLE problem_outcomes (
    run_name          VARCHAR NOT NULL,
    problem_id        VARCHAR NOT NULL,
    status            VARCHAR NOT NULL CHECK (status IN ('accepted', 'abstained', 'failed')),
    reason            VARCHAR,
    attempts          INTEGER NOT NULL,
    updated_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_name, problem_id)
);

-- Requests that failed for good (HTTP 4xx, retries spent): kept for diagnosis, never used as a cache.
CREATE TABLE call_errors (
    run_name          VARCHAR NOT NULL,
    problem_id        VARCHAR NOT NULL,
    role              VARCHAR NOT NULL,
    attempt           INTEGER NOT NULL,
    call_key          VARCHAR NOT NULL,
    error             VARCHAR NOT NULL,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- The accepted reasoning and answer, one row per problem per run.
CREATE TABLE corpus (
    run_name          VARCHAR NOT NULL,
    problem_id        VARCHAR NOT NULL,
    attempt           INTEGER NOT NULL,
    call_key          VARCHAR NOT NULL,
    reasoning         VARCHAR NOT NULL,
    content           VARCHAR NOT NULL,
    answer            VARCHAR NOT NULL,
    decided_by        VARCHAR NOT NULL,       -- rule | critic
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_name, problem_id)
);

-- Rule vs critic on each attempt, and accepted attempts that are wrong against the truth.
CREATE VIEW disagreements AS
SELECT
    a.run_name, a.problem_id, a.attempt, a.prompt_version AS solver_prompt, c.prompt_version AS critic_prompt,
    CASE
        WHEN k.problem_id IS NOT NULL AND r.verdict = 'incorrect' THEN 'accepted_but_wrong'
        WHEN r.verdict = 'correct' AND c.verdict = 'reject' THEN 'rule_correct_critic_rejects'
        WHEN r.verdict = 'incorrect' AND c.verdict = 'accept' THEN 'rule_incorrect_critic_accepts'
    END AS kind,
    r.verdict AS rule_verdict, c.verdict AS critic_verdict, a.answer, p.answer AS truth,
    r.reason AS rule_reason, c.reason AS critic_reason, p.question
FROM attempts a
JOIN problems p USING (problem_id)
LEFT JOIN verdicts r ON r.run_name = a.run_name AND r.problem_id = a.problem_id AND r.attempt = a.attempt
                    AND r.judge = 'rule'
LEFT JOIN verdicts c ON c.run_name = a.run_name AND c.problem_id = a.problem_id AND c.attempt = a.attempt
                    AND c.judge = 'critic'
LEFT JOIN corpus k ON k.run_name = a.run_name AND k.problem_id = a.problem_id AND k.attempt = a.attempt
WHERE (k.problem_id IS NOT NULL AND r.verdict = 'incorrect')
   OR (r.verdict = 'correct' AND c.verdict = 'reject')
   OR (r.verdict = 'incorrect' AND c.verdict = 'accept');

CREATE VIEW acceptance_by_prompt AS
SELECT
    a.run_name, a.prompt_version AS solver_prompt, a.model,
    count(*)                                          AS attempts,
    count(k.problem_id)                               AS accepted,
    round(count(k.problem_id) / count(*), 4)          AS accept_rate,
    count(*) FILTER (WHERE a.status <> 'ok')          AS failed_attempts,
    round(avg(a.completion_tokens), 1)                AS mean_completion_tokens
FROM attempts a
LEFT JOIN corpus k ON k.run_name = a.run_name AND k.problem_id = a.problem_id AND k.attempt = a.attempt
GROUP BY ALL;

CREATE VIEW run_summary AS
WITH outcome AS (
    SELECT run_name,
           count(*) FILTER (WHERE status = 'accepted')  AS accepted,
           count(*) FILTER (WHERE status = 'abstained') AS abstained,
           count(*) FILTER (WHERE status = 'failed')    AS failed,
           count(*) FILTER (WHERE status <> 'failed')   AS done
    FROM problem_outcomes GROUP BY run_name
), solver AS (
    SELECT run_name, count(*) AS attempts,
           sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)) AS solver_tokens
    FROM attempts GROUP BY run_name
), critic AS (
    SELECT run_name, sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)) AS critic_tokens
    FROM verdicts WHERE judge = 'critic' GROUP BY run_name
)
SELECT
    r.run_name, r.status, r.created_at,
    coalesce(o.done, 0)                          AS done,
    coalesce(o.accepted, 0)                      AS accepted,
    coalesce(o.abstained, 0)                     AS abstained,
    coalesce(o.failed, 0)                        AS failed,
    round(coalesce(o.accepted, 0) / nullif(o.done, 0), 4) AS accept_rate,
    coalesce(s.attempts, 0)                      AS attempts,
    coalesce(s.solver_tokens, 0) + coalesce(c.critic_tokens, 0) AS tokens
FROM runs r
LEFT JOIN outcome o USING (run_name)
LEFT JOIN solver s USING (run_name)
LEFT JOIN critic c USING (run_name)
WHERE r.kind = 'corpus';
