"""A real browser opens Flower behind basic auth and finds a SendMessages task with readable args.

Needs the Debian packages `chromium` (driven through Playwright's Python package with the
system binary, never a downloaded browser). Where either is missing the test is skipped with a
loud banner; `.ci/run` installs Chromium so CI always runs it.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Stack
from tests.ops import FLOWER_PASSWORD, FLOWER_USER, FlowerProcess

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = "998901234567"


def _skip_loudly(why: str) -> None:
    banner = "!" * 78
    print(f"\n{banner}\n!! BROWSER TEST SKIPPED: {why}\n{banner}", file=sys.stderr, flush=True)
    pytest.skip(f"BROWSER TEST SKIPPED: {why}")


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        _skip_loudly(f"{CHROMIUM} is missing: `apt-get install -y chromium chromium-driver` (as root; .ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_loudly("the Python package `playwright` is not installed: `make install` (requirements-dev.txt)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            http_credentials={"username": FLOWER_USER, "password": FLOWER_PASSWORD},
        )
        yield context
        context.close()


@pytest.fixture
def flower(stack: Stack, tmp_path: Path) -> Iterator[FlowerProcess]:
    process = FlowerProcess(stack.env, tmp_path / "flower.log").start()
    yield process
    process.stop()


def test_flower_shows_the_send_messages_task_with_safe_readable_args(
    stack: Stack, browser_context: object, flower: FlowerProcess
) -> None:
    # Flower only knows tasks whose events reach it after it subscribed: wait for that first.
    flower.wait_for_events(stack.worker.name)
    cid = stack.new_cid("getsms", {"GETSMS_LOGIN": "x", "GETSMS_PASSWORD": "y"})
    response = stack.call("getsms", "SendMessages", cid, [{"recipient": PHONE, "message": "hi"}])
    assert response.status_code == 200, response.text
    task_id = response.json()["result"]["task_id"]
    assert stack.wait_task(task_id)["state"] == "SUCCESS"

    page = browser_context.new_page()  # type: ignore[attr-defined]
    try:
        answer = page.goto(f"{flower.url}/tasks", wait_until="domcontentloaded")
        assert answer is not None and answer.status == 200
        row = page.locator(f'table#tasks-table tbody tr[id="{task_id}"]')
        row.wait_for(timeout=20_000)
        assert "integrations.send_messages" in row.inner_text()
        # Flower 2.2 lists no args column by default (FLOWER_TASKS_COLUMNS adds one): an operator
        # clicks the task id and reads the args on the task's page.
        row.locator(f'a[href*="{task_id}"]').first.click()
        page.wait_for_url(f"**/task/{task_id}")
        page.locator("body", has_text="1 messages").wait_for(timeout=10_000)
        body = page.locator("body").inner_text()
        assert "integrations.send_messages" in body, body[:2000]
        assert f"getsms {cid} send_messages 1 messages" in body, body[:2000]
        # never a phone number: not in the list, not on the task's own page
        detail = page.content()
        page.goto(f"{flower.url}/tasks", wait_until="domcontentloaded")
        page.locator(f'table#tasks-table tbody tr[id="{task_id}"]').wait_for(timeout=20_000)
        for content in (page.content(), detail):
            assert PHONE not in content and "901234567" not in content
    finally:
        page.close()
