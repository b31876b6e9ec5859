"""The Dask dashboard, looked at in a real browser while a spillframe query runs.

Headless Chromium (Debian's ``chromium`` package) is driven over the DevTools
protocol (a websocket, through tornado, which distributed already needs): no
driver or browser is downloaded at test time. The test reads the task names the
dashboard's Bokeh documents hold (the data of the task stream and of the progress
bars) and takes a screenshot of each page. Set ``SPILLFRAME_DASHBOARD_SHOTS`` to a
directory to keep the screenshots (that is how the README's picture was made).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.request

import pytest

import spillframe as sf
from spillframe.api.execution import physical_plan, runner_config
from spillframe.cli import demo_query, generate_sales
from spillframe.config import configure
from spillframe.runners.base import set_active_runner

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium is not installed (apt-get install chromium): this test opens the "
        "Dask dashboard in headless Chromium",
    ),
]

#: Operator words the queries below must show (each plan's stage names are checked).
OPERATOR_WORDS = {"scan-parquet", "hash-split", "hash-join"}
# The dashboard's own prefixes (data moved between workers, read back from or written
# to disk) and our bucket-selection tasks' suffix, around an operator word.
DASHBOARD_NAME = re.compile(r"^(?:transfer-|disk-read-|disk-write-)?(?P<word>.+?)(?:-bucket)?$")

# The names in the page's Bokeh ColumnDataSources: of the task streams' rectangles and
# of the progress bars (the sources with a "processing" column), which /status draws
# for the task groups the scheduler holds now.
NAMES_JS = """(() => {
  const found = {all: [], progress: []};
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    const models = doc._all_models ? Array.from(doc._all_models.values())
                                   : Array.from(doc.all_models || []);
    for (const model of models) {
      const data = model.data instanceof Map ? Object.fromEntries(model.data) : model.data;
      if (!data || !data.name) continue;
      const names = Array.from(data.name, String);
      found.all.push(...names);
      if (data.processing) found.progress.push(...names);
    }
  }
  return JSON.stringify(found);
})()"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One headless Chromium page, driven over the DevTools protocol."""

    def __init__(self, profile: str, width: int = 1200, height: int = 700) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",  # root in a container
                "--disable-gpu",
                f"--remote-debugging-port={self.port}",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.size = (width, height)
        self._ids = itertools.count(1)
        self._conn = None

    def _page_socket(self) -> str:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list") as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("headless chromium did not start its DevTools endpoint")
            time.sleep(0.2)

    async def call(self, method: str, **params):
        from tornado.websocket import websocket_connect

        if self._conn is None:
            self._conn = await websocket_connect(self._page_socket(), max_message_size=1 << 27)
            width, height = self.size  # the page's viewport, whatever the window's frame
            await self.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
        ident = next(self._ids)
        await self._conn.write_message(
            json.dumps({"id": ident, "method": method, "params": params})
        )
        while True:
            message = json.loads(await self._conn.read_message())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    async def open(
        self, url: str, want: set[str], progress: bool, timeout: float = 60
    ) -> tuple[set[str], set[str]]:
        """Load ``url``; wait until its task names include ``want`` (and, with
        ``progress``, until progress bars show); return all names and the bars'."""
        await self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        names: set[str] = set()
        bars: set[str] = set()
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            result = await self.call("Runtime.evaluate", expression=NAMES_JS, returnByValue=True)
            found = json.loads(result["result"].get("value") or "{}")
            names |= set(found.get("all", ()))
            bars = set(found.get("progress", ()))
            if want <= names and (bars or not progress):
                break
        return names, bars

    async def screenshot(self) -> bytes:
        result = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(result["data"])

    def disconnect(self) -> None:
        """Close the DevTools connection (on the event loop that opened it)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.disconnect()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _queries(directory: str) -> list[sf.DataFrame]:
    """The demo query (scan, broadcast join, group, sort) and a hash join of its tables."""
    sales = sf.read_parquet(os.path.join(directory, "sales"))
    stores = sf.read_parquet(os.path.join(directory, "stores.parquet"))
    hashed = (
        sales.join(stores, on="store_id", strategy="hash")
        .groupby("region")
        .agg(sf.col("quantity").sum().alias("quantity"))
    )
    return [demo_query(directory), hashed]


#: Small partitions: several tasks per stage, and the join's sides split by hash.
PARTITION_BYTES = 256 * 1024


@contextlib.contextmanager
def running_queries(runner, directory: str):
    """Run the query over and over on ``runner`` in a thread, until the block ends."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        previous = set_active_runner(runner)
        try:
            with configure(partition_bytes=PARTITION_BYTES):
                while not stop.is_set():
                    for query in _queries(directory):
                        query.collect()
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test
            errors.append(exc)
        finally:
            set_active_runner(previous)

    thread = threading.Thread(target=loop, name="dashboard-query")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=120)
    if errors:
        raise errors[0]


def _in_own_loop(coroutine):
    """Run ``coroutine`` to its end on an event loop of its own thread (the test's
    thread keeps its event-loop state untouched)."""
    result: list = []

    def run() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            result.append(exc)

    thread = threading.Thread(target=run, name="chromium-devtools")
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


async def _visit(browser: Browser, base: str, pages: list[str], want: set[str]) -> dict:
    seen = {}
    try:
        for page in pages:
            names, bars = await browser.open(f"{base}/{page}", want, page == "status")
            seen[page] = (names, bars, await browser.screenshot())
    finally:
        browser.disconnect()
    return seen


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_dashboard_pages_show_spillframe_operator_words(dask_runner, tmp_path):
    data = tmp_path / "data"
    (data / "sales").mkdir(parents=True)
    generate_sales(str(data), 200_000)
    with configure(partition_bytes=PARTITION_BYTES):
        words = {
            stage.name
            for query in _queries(str(data))
            for stage in physical_plan(
                query._plan, config=runner_config(dask_runner)
            ).topological_stages()
        }
    assert words >= OPERATOR_WORDS, words
    base = dask_runner.dashboard_link.rsplit("/", 1)[0]
    keep = os.environ.get("SPILLFRAME_DASHBOARD_SHOTS")
    browser = Browser(str(tmp_path / "profile"))
    try:
        with running_queries(dask_runner, str(data)):
            pages = ["individual-task-stream", "status"]
            seen = _in_own_loop(_visit(browser, base, pages, words))
    finally:
        browser.close()
    for page, (_, _, shot) in seen.items():
        (tmp_path / f"{page}.png").write_bytes(shot)
        if keep:
            os.makedirs(keep, exist_ok=True)
            shutil.copy(tmp_path / f"{page}.png", os.path.join(keep, f"{page}.png"))
        assert _png_size(shot) == (1200, 700) and len(shot) > 10_000, page
    names = seen["individual-task-stream"][0]
    # Every stage's operator word names task rectangles, and nothing else does: no
    # key tokens, stage numbers or Dask-made names. A task that also ran the task
    # feeding it (see spillframe_dask.graph) shows both words.
    shown = {DASHBOARD_NAME.match(n)["word"] for n in names}
    parts = {n: _operator_words(n, words) for n in shown}
    assert all(parts.values()), sorted(n for n, p in parts.items() if not p)
    assert set().union(*parts.values()) == words, sorted(words - set().union(*parts.values()))
    # /status: its task stream, and progress bars of the task groups held at the time.
    names, bars = seen["status"][:2]
    on_status = {w for n in names for w in _operator_words(DASHBOARD_NAME.match(n)["word"], words)}
    assert on_status >= OPERATOR_WORDS
    assert bars and all(_operator_words(DASHBOARD_NAME.match(n)["word"], words) for n in bars)


def _operator_words(name: str, words: set[str]) -> set[str]:
    """The operator words ``name`` is made of, joined by ``-`` (empty: it is not)."""
    if name in words:
        return {name}
    for word in words:
        if name.startswith(word + "-"):
            rest = _operator_words(name[len(word) + 1 :], words)
            if rest:
                return {word, *rest}
    return set()
