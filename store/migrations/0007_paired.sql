-- Paired comparisons on the same problems: each student against the base, each student level against R1 of
-- the same training run, and the teacher against the base. `seed` is the training seed (the base and the teacher
-- have one greedy run, seed 0); seed NULL is the comparison over seeds, by each problem's mean correctness across
-- the model's seeds (a problem is counted once, never once per seed). model_better / reference_better are the
-- discordant problems (at one seed: only the model right / only the reference right) that the exact McNemar test
-- reads; the p-value and the bootstrap CI of `difference` are computed in evaluation/paired.py.
CREATE VIEW eval_paired AS
WITH per_seed AS (
    SELECT run_name, split, split_seed, label, kind, training_run, level, seed, problem_id,
           CASE WHEN outcome = 'correct' THEN 1.0 ELSE 0.0 END AS c
    FROM eval_results
),
over_seeds AS (
    SELECT run_name, split, split_seed, label, kind, training_run, level, CAST(NULL AS INTEGER) AS seed,
           problem_id, avg(c) AS c
    FROM per_seed GROUP BY ALL
),
scored AS (
    SELECT * FROM per_seed UNION ALL SELECT * FROM over_seeds
),
pairs AS (
    SELECT m.run_name, m.split, m.split_seed, m.label, m.kind, m.training_run, m.level, m.seed,
           r.label AS reference, m.problem_id, m.c AS model_c, r.c AS reference_c
    FROM scored m
    JOIN scored r ON r.run_name = m.run_name AND r.split = m.split AND r.split_seed = m.split_seed
                 AND r.problem_id = m.problem_id
    WHERE (m.kind IN ('student', 'teacher') AND r.kind = 'base'
           AND ((m.seed IS NULL AND r.seed IS NULL) OR (m.seed IS NOT NULL AND r.seed = 0)))
       OR (m.kind = 'student' AND r.kind = 'student' AND m.level <> 'R1' AND r.level = 'R1'
           AND r.training_run = m.training_run AND r.seed IS NOT DISTINCT FROM m.seed)
)
SELECT
    run_name, split, split_seed, label, kind, training_run, level, seed, reference,
    count(*)                                                          AS problems,
    count(*) FILTER (WHERE model_c = 1 AND reference_c = 1)           AS both_right,
    count(*) FILTER (WHERE model_c = 0 AND reference_c = 0)           AS both_wrong,
    count(*) FILTER (WHERE model_c > reference_c)                     AS model_better,
    count(*) FILTER (WHERE model_c < reference_c)                     AS reference_better,
    avg(model_c)                                                      AS model_accuracy,
    avg(reference_c)                                                  AS reference_accuracy,
    avg(model_c) - avg(reference_c)                                   AS difference
FROM pairs
GROUP BY ALL;
