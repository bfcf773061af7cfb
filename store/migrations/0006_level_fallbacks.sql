-- A rewrite that passes every check but falls below the floor (the next level's budget) is `usable` but not
-- `passed`: kept as a fallback while the compressor tries again (the longest one becomes the level if no
-- rewrite passes).
ALTER TABLE level_attempts ADD COLUMN usable BOOLEAN;
UPDATE level_attempts SET usable = passed;

-- level_summary gains the paired numbers: over the rows that have every level the run made ("complete"), the
-- same problems at each level, so that the means compare like with like and fall level by level.
DROP VIEW level_summary;
CREATE VIEW level_summary AS
WITH made AS (SELECT run_name, count(DISTINCT level) AS levels FROM levels GROUP BY run_name),
complete AS (
    SELECT l.run_name, l.problem_id
    FROM levels l JOIN made USING (run_name)
    GROUP BY l.run_name, l.problem_id, made.levels
    HAVING count(*) FILTER (WHERE l.status = 'ok') = made.levels
)
SELECT
    l.run_name, l.level,
    count(*) FILTER (WHERE l.status = 'ok')                     AS ok,
    count(*) FILTER (WHERE l.status = 'failed')                 AS failed,
    round(avg(l.words) FILTER (WHERE l.status = 'ok'), 1)       AS mean_words,
    median(l.words) FILTER (WHERE l.status = 'ok')              AS median_words,
    round(avg(l.tokens) FILTER (WHERE l.status = 'ok'), 1)      AS mean_tokens,
    round(avg(l.attempts), 2)                                   AS mean_attempts,
    count(c.problem_id)                                         AS complete_rows,
    round(avg(l.words) FILTER (WHERE c.problem_id IS NOT NULL), 1) AS complete_mean_words
FROM levels l LEFT JOIN complete c USING (run_name, problem_id)
GROUP BY ALL;
