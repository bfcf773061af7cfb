"""The dashboard in a real browser (Debian's chromium, driven by selenium through chromedriver): a job's progress
updates on the page while the job runs, a disagreement opens with both verdicts side by side, and the SQL box
returns rows. Screenshots of the main pages go under the test's temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.service.helpers import ADD, Service, client_of, corpus_job, seed_sums, wait_for
from tests.support.openai_server import OpenAIServer, Reply, is_critic, user_text

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def wrong_on_multiples_of_five(request):
    """The solver is off by one when the first addend is a multiple of 5, and the critic accepts anyway: the rule
    says incorrect, the critic accept, a disagreement."""
    a, b = map(int, ADD.search(user_text(request)).groups())
    if is_critic(request):
        return Reply(content="VERDICT: ACCEPT\nREASON: the sum looks right to me.", completion_tokens=8)
    answer = a + b + (1 if a % 5 == 0 else 0)
    return Reply(content=f"Answer: \\boxed{{{answer}}}", reasoning_content=f"{a} + {b} = {answer}.")


@pytest.fixture
def browser(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"no Debian chromium/chromedriver at {CHROMIUM}, {CHROMEDRIVER} "
                    "(apt-get install chromium chromium-driver; scripts/test.sh does it as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1366,900", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_dashboard_in_a_real_browser(tmp_path, browser):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    db = tmp_path / "b.duckdb"
    seed_sums(db, 20)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with OpenAIServer(wrong_on_multiples_of_five, latency_s=0.02) as server, Service(db) as service:
        server.hold_after(12)  # 6 problems done, then the job waits mid-run
        service_job = corpus_job(server.base_url, "web", concurrency=1, critic_mode="llm", max_attempts=1)
        client = client_of(service)
        job_id = client.submit(service_job)["job_id"]
        wait_for(lambda: len(server.held) >= 1)

        def text(selector: str) -> str:
            """The element's text; "" while the page's script is replacing the table under it."""
            try:
                return browser.find_element(By.CSS_SELECTOR, selector).text
            except (StaleElementReferenceException, NoSuchElementException):
                return ""

        browser.get(service.url + "/")
        row = f'tr[data-job="{job_id}"]'
        done = lambda: text(f"{row} .done")  # noqa: E731
        before = wait_for(lambda: done() if done().startswith("6/") else None, timeout=30)
        assert "running" in wait_for(lambda: text(row))
        browser.save_screenshot(str(shots / "jobs-running.png"))
        server.release()  # the job goes on; the open page must follow it without a reload
        wait_for(lambda: done() == "20/20", timeout=60)
        assert before != done()
        wait_for(lambda: "done" in text(row))
        browser.save_screenshot(str(shots / "jobs-done.png"))

        browser.get(service.url + "/disagreements?kind=accepted_but_wrong")
        rows = browser.find_elements(By.CSS_SELECTOR, "#disagreements tr")
        assert len(rows) == 1 + 4  # a header; s000, s005, s010, s015
        browser.save_screenshot(str(shots / "disagreements.png"))
        rows[1].find_element(By.TAG_NAME, "a").click()
        rule = browser.find_element(By.CSS_SELECTOR, ".verdict.rule").text
        critic = browser.find_element(By.CSS_SELECTOR, ".verdict.critic").text
        assert "incorrect" in rule and "accept" in critic and "looks right" in critic
        assert browser.find_element(By.ID, "truth").text == "1"
        assert browser.find_element(By.CSS_SELECTOR, ".attempt .answer").text == "2"
        browser.save_screenshot(str(shots / "disagreement.png"))

        browser.get(service.url + "/sql")
        box = browser.find_element(By.ID, "sql")
        box.clear()
        box.send_keys("SELECT kind, count(*) AS n FROM disagreements GROUP BY kind")
        browser.find_element(By.ID, "run-sql").click()
        cells = wait_for(lambda: [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#sql-result td")])
        assert cells == ["accepted_but_wrong", "4"]
        browser.save_screenshot(str(shots / "sql.png"))

        browser.get(service.url + "/runs/web")
        assert "Outcomes" in browser.page_source
        browser.save_screenshot(str(shots / "run.png"))
    assert all((shots / name).stat().st_size > 10_000 for name in ("jobs-running.png", "disagreement.png", "sql.png"))
