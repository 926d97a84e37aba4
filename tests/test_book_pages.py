"""Every page of the built book, opened in headless Chromium: what a reader's browser shows.

A page passes when loading it logs no console error (a script error, a failed resource such as
a missing image or stylesheet), every image has loaded with a size, and no table is empty (a
results table with a header and no rows is a cell that silently found nothing). The book is
built by the README's main job (``jupyter-book build ... book/``) before the tests run; Chromium
is Debian's ``chromium`` package, which ``.ci/run`` installs. Where either is missing the test
is skipped saying which, except under ``CGNAS_REQUIRE_BOOK=1`` (set by ``.ci/run``), where that
is a failure.

Resources a page fetches from the web (MathJax from its CDN, on the pages with formulas) fail to
load on CI's offline machine; those failed requests are not counted, every failure of the book's
own files is.

The browser is driven over the Chrome DevTools Protocol (a websocket; tornado's client, which
the book's Jupyter stack already installs), so no browser driver is needed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HTML = Path(__file__).resolve().parents[1] / "book" / "_build" / "html"
BUILD_COMMAND = "poetry run jupyter-book build -W -n --keep-going book/"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)
REQUIRED = os.environ.get("CGNAS_REQUIRE_BOOK") == "1"  # CI: what is missing fails, not skips
NO_BROWSER = (
    "no headless browser: install Debian's chromium (`apt-get install chromium`); "
    f"looked for {', '.join(BROWSERS)}"
)
NO_BOOK = f"the book is not built ({HTML} is missing): run `{BUILD_COMMAND}`"
needs_book = pytest.mark.skipif(not REQUIRED and not HTML.is_dir(), reason=NO_BOOK)
pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(not REQUIRED and BROWSER is None, reason=NO_BROWSER),
]
START_TIMEOUT_S = 30.0
PAGE_TIMEOUT_S = 60.0
# what the page's own scripts see: images not loaded (or of no size) and tables without a cell
INSPECT_PAGE = """JSON.stringify({
  images: Array.from(document.images)
    .filter(i => !i.complete || i.naturalWidth === 0)
    .map(i => i.getAttribute("src")),
  emptyTables: Array.from(document.querySelectorAll("table"))
    .filter(t => t.querySelectorAll("td").length === 0)
    .map(t => (t.closest("section")?.querySelector("h1, h2, h3")?.textContent ?? "?").trim()),
})"""


def _pages() -> list[Path]:
    """The built book's content pages (Sphinx's index, search and genindex pages excluded)."""
    if not HTML.is_dir():  # only reached under CGNAS_REQUIRE_BOOK=1: needs_book skips otherwise
        pytest.fail(NO_BOOK)
    pages = sorted(p for p in HTML.glob("*.html") if p.name not in {"genindex.html", "search.html"})
    if not pages:
        pytest.fail(f"{HTML} holds no page")
    return pages


@dataclass
class PageReport:
    """What loading one page showed: console errors, broken images, empty tables."""

    errors: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    empty_tables: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """One line per problem, empty when the page is fine."""
        return (
            [f"console: {e}" for e in self.errors]
            + [f"image not loaded: {i}" for i in self.broken_images]
            + [f"empty table under '{t}'" for t in self.empty_tables]
        )


class DevTools:
    """One Chromium page over the DevTools protocol: open a URL, collect what it logged."""

    def __init__(self, websocket: Any) -> None:
        self._ws = websocket
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command; keep the events that arrive before its answer."""
        self._next_id += 1
        await self._ws.write_message(
            json.dumps({"id": self._next_id, "method": method, "params": params})
        )
        while True:
            message = await asyncio.wait_for(self._ws.read_message(), PAGE_TIMEOUT_S)
            if message is None:
                raise RuntimeError(f"Chromium closed the connection during {method}")
            data = json.loads(message)
            if data.get("id") == self._next_id:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return dict(data.get("result", {}))
            self._events.append(data)

    async def _until(self, event: str) -> None:
        while not any(e.get("method") == event for e in self._events):
            message = await asyncio.wait_for(self._ws.read_message(), PAGE_TIMEOUT_S)
            if message is None:
                raise RuntimeError(f"Chromium closed the connection waiting for {event}")
            self._events.append(json.loads(message))

    async def open(self, url: str) -> PageReport:
        """Load ``url`` and report its console errors, broken images and empty tables."""
        self._events = []
        await self.call("Page.navigate", url=url)
        await self._until("Page.loadEventFired")
        await asyncio.sleep(0.3)  # late console messages (scripts run on load)
        found = await self.call("Runtime.evaluate", expression=INSPECT_PAGE, returnByValue=True)
        inspected = json.loads(found["result"]["value"])
        return PageReport(
            errors=_console_errors(self._events),
            broken_images=inspected["images"],
            empty_tables=inspected["emptyTables"],
        )


def _console_errors(events: list[dict[str, Any]]) -> list[str]:
    """The errors among DevTools events: console.error, uncaught exceptions, failed loads."""
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in {"error", "assert"}:
            errors.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(details.get("exception", {}).get("description", details["text"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            url = entry.get("url", "")
            if entry.get("source") == "network" and url.startswith(("http://", "https://")):
                continue  # a remote resource: the offline CI machine cannot fetch it
            errors.append(f"{entry['text']} {url}".strip())
    return errors


@pytest.fixture(scope="module")
def page_websocket() -> Iterator[str]:
    """A headless Chromium's page target (its DevTools websocket URL), closed after the module."""
    if BROWSER is None:  # only reached under CGNAS_REQUIRE_BOOK=1: the module's mark skips
        pytest.fail(NO_BROWSER)
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [
                BROWSER,
                "--headless=new",
                "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = _devtools_port(Path(profile) / "DevToolsActivePort", process)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as answer:
                targets = json.loads(answer.read())
            yield next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        finally:
            process.terminate()
            process.wait(timeout=START_TIMEOUT_S)


def _devtools_port(path: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Chromium exited with {process.returncode} before it was ready")
        if path.exists() and path.read_text().strip():
            return int(path.read_text().split()[0])
        time.sleep(0.1)
    pytest.fail(f"Chromium did not open its DevTools port within {START_TIMEOUT_S:.0f} s")
    raise AssertionError  # unreachable: pytest.fail raises


async def _inspect_all(websocket_url: str, pages: list[Path]) -> dict[str, PageReport]:
    from tornado.websocket import websocket_connect

    websocket = await websocket_connect(websocket_url, max_message_size=64 * 2**20)
    try:
        tools = DevTools(websocket)
        for domain in ("Page", "Runtime", "Log"):
            await tools.call(f"{domain}.enable")
        return {page.name: await tools.open(page.as_uri()) for page in pages}
    finally:
        websocket.close()


@needs_book
def test_every_page_loads_without_errors_broken_images_or_empty_tables(page_websocket: str) -> None:
    reports = asyncio.run(_inspect_all(page_websocket, _pages()))
    problems = {name: lines for name, r in reports.items() if (lines := r.problems())}
    assert not problems, "\n".join(
        f"{name}:\n  " + "\n  ".join(lines) for name, lines in problems.items()
    )


def test_the_inspection_sees_a_broken_image_an_empty_table_and_a_script_error_only(
    page_websocket: str, tmp_path: Path
) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body><section><h2>Results</h2><table><thead><tr><th>a</th></tr></thead>"
        "<tbody></tbody></table></section><img src='missing.png'>"
        "<script>console.error('boom'); undefinedFunction();</script>"
        "<script src='https://cdn.example.invalid/mathjax.js'></script></body></html>"
    )
    report = asyncio.run(_inspect_all(page_websocket, [page]))["broken.html"]
    assert report.broken_images == ["missing.png"]
    assert report.empty_tables == ["Results"]
    assert any("boom" in e for e in report.errors)
    assert any("undefinedFunction" in e for e in report.errors)
    assert any("missing.png" in e for e in report.errors)
    assert not any("example.invalid" in e for e in report.errors)  # remote: not counted
