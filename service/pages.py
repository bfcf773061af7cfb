"""The dashboard: server-rendered pages over the store (jobs with live progress, runs, disagreements, a problem's
attempts and level ladder, training curves, evaluation tables and the report, a SQL box). Everything is served
from here (no CDN); the only script re-fetches the jobs table each second."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from distill.service.charts import loss_chart
from distill.service.sql import MAX_ROWS, guarded_query
from distill.store import StoreError
from distill.store.jobs import latest_study_config
from distill.store.queries import plain
from distill.training.config import TrainConfig
from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

EXAMPLES = [
    "SELECT kind, count(*) FROM disagreements GROUP BY kind",
    "SELECT * FROM run_summary",
    "SELECT run_name, solver_prompt, accept_rate FROM acceptance_by_prompt",
    "SELECT label, mean_accuracy, std_accuracy FROM eval_model_summary",
]
DISAGREEMENT_KINDS = ["accepted_but_wrong", "rule_correct_critic_rejects", "rule_incorrect_critic_accepts"]


def register_pages(app: FastAPI, state: Any) -> None:
    folder = resources.files("distill.service")
    templates = Jinja2Templates(directory=str(folder / "templates"))
    app.mount("/static", StaticFiles(directory=str(folder / "static")), name="static")
    store = state.store

    def page(request: Request, name: str, title: str, **values: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"title": title, "db": str(store.path), **values})

    def rows(sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return [plain(r) for r in store.query(sql, params or [])]

    def section(heading: str | None, records: list[dict[str, Any]], links: dict[str, str] | None = None,
                **extra: Any) -> dict[str, Any]:
        columns = list(records[0]) if records else []
        return {"heading": heading, "columns": columns or ["(none)"], **extra,
                "rows": [[_cell(r, c, links) for c in columns] for r in records]}

    @app.get("/", response_class=HTMLResponse)
    def jobs_page(request: Request) -> HTMLResponse:
        return page(request, "jobs.html", "Jobs", jobs=state.jobs.list(), fragment="/fragments/jobs")

    @app.get("/fragments/jobs")
    def jobs_fragment(request: Request) -> dict[str, Any]:
        table = templates.get_template("jobs_table.html").render(jobs=state.jobs.list())
        return {"table": table}

    @app.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, job_id: int) -> HTMLResponse:
        job = _job(state, job_id)
        return page(request, "jobs.html", f"Job {job_id}: {job['kind']} {job['run_name']}", jobs=[job], job=job,
                    config=json.dumps(job["config"], indent=2), fragment=f"/fragments/jobs/{job_id}")

    @app.get("/fragments/jobs/{job_id}")
    def job_fragment(job_id: int) -> dict[str, Any]:
        job = _job(state, job_id)
        return {"table": templates.get_template("jobs_table.html").render(jobs=[job]), "log": "\n".join(job["log"])}

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page(request: Request) -> HTMLResponse:
        runs = rows("SELECT * FROM run_summary ORDER BY created_at DESC")
        return page(request, "tables.html", "Corpus runs", sections=[section(None, runs, {"run_name": "/runs/{}"})])

    @app.get("/runs/{run}", response_class=HTMLResponse)
    def run_page(request: Request, run: str) -> HTMLResponse:
        kinds = rows("SELECT kind, count(*) AS attempts FROM disagreements WHERE run_name = ? GROUP BY kind "
                     "ORDER BY kind", [run])
        for r in kinds:
            r["kind"] = {"text": r["kind"], "href": f"/disagreements?run={run}&kind={r['kind']}"}
        sections = [
            section("Outcomes", rows("SELECT status, count(*) AS problems, round(avg(attempts), 2) AS mean_attempts "
                                     "FROM problem_outcomes WHERE run_name = ? GROUP BY status ORDER BY status",
                                     [run])),
            section("Disagreements", kinds),
            section("Acceptance by prompt version", rows(
                "SELECT * EXCLUDE (run_name) FROM acceptance_by_prompt WHERE run_name = ?", [run])),
            section("Reasoning levels", rows("SELECT * EXCLUDE (run_name) FROM level_summary WHERE run_name = ? "
                                             "ORDER BY level", [run])),
            section("Problems", rows("SELECT problem_id, status, attempts, reason, updated_at FROM problem_outcomes "
                                     "WHERE run_name = ? ORDER BY updated_at DESC LIMIT 500", [run]),
                    {"problem_id": f"/problems/{run}/{{}}"}, note="newest first, at most 500"),
        ]
        return page(request, "tables.html", f"Run {run}", sections=sections)

    @app.get("/disagreements", response_class=HTMLResponse)
    def disagreements_page(request: Request, run: str = "", kind: str = "",
                           section_: Annotated[str, Query(alias="section")] = "", prompt: str = "") -> HTMLResponse:
        where, params = [], []
        for column, value in (("d.run_name", run), ("d.kind", kind), ("coalesce(p.section, p.subject)", section_),
                              ("d.solver_prompt", prompt)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        found = rows("SELECT d.run_name AS run, d.problem_id AS problem, d.attempt, d.kind, "
                     "coalesce(p.section, p.subject) AS section, d.rule_verdict, d.critic_verdict, d.answer, "
                     "d.truth, d.rule_reason, d.critic_reason FROM disagreements d JOIN problems p USING (problem_id) "
                     f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY d.run_name, d.problem_id, "
                     "d.attempt LIMIT 1000", params)
        for r in found:
            r["problem"] = {"text": r["problem"], "href": f"/problems/{r['run']}/{r['problem']}#attempt-{r['attempt']}"}
            r["rule_verdict"] = {"text": r["rule_verdict"], "cls": f"v-{r['rule_verdict']}"}
            r["critic_verdict"] = {"text": r["critic_verdict"], "cls": f"v-{r['critic_verdict']}"}
        options = {
            "run": [r["run_name"] for r in rows("SELECT DISTINCT run_name FROM attempts ORDER BY 1")],
            "kind": DISAGREEMENT_KINDS,
            "section": [r["s"] for r in rows("SELECT DISTINCT coalesce(section, subject) AS s FROM problems "
                                             "WHERE coalesce(section, subject) IS NOT NULL ORDER BY 1")],
            "prompt": [r["v"] for r in rows("SELECT DISTINCT prompt_version AS v FROM attempts ORDER BY 1")],
        }
        chosen = {"run": run, "kind": kind, "section": section_, "prompt": prompt}
        filters = [{"name": n, "label": n, "options": o, "value": chosen[n]} for n, o in options.items()]
        return page(request, "tables.html", "Disagreements", filters=filters,
                    intro="Rule and critic on the same attempt, and accepted attempts that are wrong against the "
                          "truth. Open a problem for both verdicts side by side.",
                    sections=[section(None, found, id="disagreements", note="at most 1000 rows")])

    @app.get("/problems/{run}/{problem_id:path}", response_class=HTMLResponse)
    def problem_page(request: Request, run: str, problem_id: str) -> HTMLResponse:
        problem = rows("SELECT * FROM problems WHERE problem_id = ?", [problem_id])
        if not problem:
            raise HTTPException(404, f"no problem {problem_id}")
        outcome = rows("SELECT * FROM problem_outcomes WHERE run_name = ? AND problem_id = ?", [run, problem_id])
        levels = rows("SELECT * FROM levels WHERE run_name = ? AND problem_id = ? ORDER BY level", [run, problem_id])
        levels_rows = [[lv["level"], {"text": lv["status"], "cls": f"v-{lv['status']}"}, lv["words"], lv["tokens"],
                        lv["target_words"], lv["source_level"], lv["attempts"], lv["reason"]] for lv in levels]
        return page(request, "problem.html", f"{problem_id} in {run}", problem=problem[0],
                    outcome=outcome[0] if outcome else None, attempts=_attempts(rows, run, problem_id),
                    levels=levels, levels_rows=levels_rows)

    @app.get("/trainings", response_class=HTMLResponse)
    def trainings_page(request: Request) -> HTMLResponse:
        runs = rows("SELECT training_id, run_name, level, seed, status, best_iteration, round(best_val_loss, 4) "
                    "AS best_val_loss, last_iteration, iters, round(seconds, 1) AS seconds FROM training_runs "
                    "ORDER BY training_id DESC")
        return page(request, "tables.html", "Training runs",
                    sections=[section(None, runs, {"training_id": "/trainings/{}"})])

    @app.get("/trainings/{training_id}", response_class=HTMLResponse)
    def training_page(request: Request, training_id: int) -> HTMLResponse:
        found = rows("SELECT * FROM training_runs WHERE training_id = ?", [training_id])
        if not found:
            raise HTTPException(404, f"no training run {training_id}")
        run = found[0]
        losses = rows("SELECT split, iteration, loss FROM training_losses WHERE training_id = ? ORDER BY iteration",
                      [training_id])
        svg = loss_chart(losses, run["best_iteration"])
        summary = {k: run[k] for k in ("run_name", "level", "seed", "status", "best_iteration", "best_val_loss",
                                       "last_iteration", "iters", "adapter_dir")}
        return page(request, "tables.html", f"Training {training_id}: {run['run_name']} {run['level']} seed "
                    f"{run['seed']}", sections=[section(None, [summary]),
                                                {"heading": "Loss", "svg": svg,
                                                 "note": "train (blue) and validation (orange); the dashed line is "
                                                         "the kept iteration (best validation loss)"}])

    @app.get("/evaluations", response_class=HTMLResponse)
    def evaluations_page(request: Request) -> HTMLResponse:
        summary = rows("SELECT run_name, split, label, seeds, min_problems AS problems, round(100 * mean_accuracy, 1) "
                       "AS accuracy_pct, round(100 * std_accuracy, 1) AS std_pct, undecided, truncated, "
                       "round(mean_words) AS mean_words FROM eval_model_summary ORDER BY run_name, split, label")
        reports = []
        for run in sorted({r["run_name"] for r in summary}):
            if (report_dir(state, run) / "report.html").exists():
                reports.append({"run": run, "report": {"text": "report.html", "href": f"/reports/{run}/report.html"}})
        paired = rows("SELECT * FROM eval_paired ORDER BY ALL LIMIT 200")
        return page(request, "tables.html", "Evaluation", sections=[
            section("Accuracy on held-out problems (mean over seeds)", summary),
            section("Paired per problem (see the report for tests and CIs)", paired),
            section("Reports", reports)])

    @app.get("/reports/{run}/{name}")
    def report_file(run: str, name: str) -> FileResponse:
        path = report_dir(state, run) / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise HTTPException(404, f"no report file {name} for run {run}")
        return FileResponse(path)

    @app.get("/sql", response_class=HTMLResponse)
    def sql_page(request: Request) -> HTMLResponse:
        return page(request, "sql.html", "SQL", sql=EXAMPLES[0], examples=EXAMPLES, max_rows=MAX_ROWS)

    @app.post("/sql", response_class=HTMLResponse)
    def sql_run(request: Request, sql: str = Form(...)) -> HTMLResponse:
        result, error = None, None
        try:
            result = guarded_query(store, sql, MAX_ROWS)
        except StoreError as exc:
            error = str(exc)
        return page(request, "sql.html", "SQL", sql=sql, result=result, error=error, examples=EXAMPLES,
                    max_rows=MAX_ROWS)


def _cell(record: dict[str, Any], column: str, links: dict[str, str] | None) -> Any:
    value = record[column]
    if links and column in links and not isinstance(value, dict):
        return {"text": value, "href": links[column].format(value)}
    return value


def _job(state: Any, job_id: int) -> dict[str, Any]:
    from distill.service.jobs import JobNotFound

    try:
        return state.jobs.get(job_id)
    except JobNotFound as exc:
        raise HTTPException(404, str(exc)) from exc


def _attempts(rows: Any, run: str, problem_id: str) -> list[dict[str, Any]]:
    """Each attempt with its two verdicts and the critique the solver was sent with it."""
    found = rows("""
        SELECT a.*, r.verdict AS rule_verdict, r.reason AS rule_reason, r.decided AS rule_decided,
               c.verdict AS critic_verdict, c.reason AS critic_reason, c.decided AS critic_decided,
               k.problem_id IS NOT NULL AS accepted
        FROM attempts a
        LEFT JOIN verdicts r ON r.run_name = a.run_name AND r.problem_id = a.problem_id AND r.attempt = a.attempt
                            AND r.judge = 'rule'
        LEFT JOIN verdicts c ON c.run_name = a.run_name AND c.problem_id = a.problem_id AND c.attempt = a.attempt
                            AND c.judge = 'critic'
        LEFT JOIN corpus k ON k.run_name = a.run_name AND k.problem_id = a.problem_id AND k.attempt = a.attempt
        WHERE a.run_name = ? AND a.problem_id = ? ORDER BY a.attempt""", [run, problem_id])
    for attempt in found:
        messages = json.loads(attempt["messages"]) if isinstance(attempt["messages"], str) else attempt["messages"]
        users = [m.get("content", "") for m in messages or [] if m.get("role") == "user"]
        attempt["feedback"] = users[-1] if attempt["attempt"] > 1 and users else None
        attempt["words"] = len((attempt["reasoning"] or "").split())
    return found


def report_dir(state: Any, run: str) -> Path:
    """Where a study wrote its report: OUT/<run>/report, OUT from the newest study job of that name, else the
    default output root."""
    config = latest_study_config(state.store, run)
    return Path((config or {}).get("out", TrainConfig.model_fields["out_dir"].default)) / run / "report"
