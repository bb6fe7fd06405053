"""Real headless Chromium for the tests: local pages (file:// URLs) opened and checked over the DevTools Protocol.

Why not Selenium or Playwright: each brings a driver, or browser builds of its own to download, for what the
tests need, a handful of Chrome DevTools Protocol (CDP) commands. Here Debian's chromium runs headless with a
fresh profile; its DevTools port is read from the file it writes (port 0: no clash between parallel runs),
and one websocket per page carries the commands and the events the tests assert on (requests sent, uncaught
exceptions, console errors). Nothing leaves the machine: the host resolver maps every name but localhost to
NOTFOUND, so a page that would load a CDN fails at once, and its request still shows in `Page.requests`.

    with Browser(tmp_path) as browser:
        page = browser.open(path.as_uri())
        assert page.evaluate("document.title") == "..."
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import websocket

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
SKIP_REASON = "chromium is not installed (Debian package chromium; .ci/run installs it): browser tests skipped"

START_TIMEOUT = 20.0  # seconds for chromium to open its DevTools port (under 1 s here; a loaded machine: more)
REPLY_TIMEOUT = 30.0  # seconds for the answer to one command
LOAD_TIMEOUT = 30.0  # seconds for a page's load event
STOP_TIMEOUT = 5.0  # seconds to answer Browser.close, then as many to exit, before its group is killed
POLL = 0.05  # seconds between two looks at a file or a condition

# A phone (width, height, device pixel ratio) for `Browser.open(mobile=True)`.
MOBILE = (390, 844, 2)

FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests and CI run as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-extensions",
    "--remote-debugging-port=0",
    # Every host name fails to resolve, but localhost (a test's own server): no page reaches the network.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
    "--window-size=1280,900",
    "--disable-dev-shm-usage",  # a container's /dev/shm is often 64 MB: screenshots would crash the renderer
    "--no-default-browser-check",
    "--hide-scrollbars",  # the same screenshots whatever the page's height
    "--mute-audio",
    "--password-store=basic",  # no keyring daemon to ask
)


def chromium_path() -> str | None:
    """The browser to run: $DECP_CHROMIUM if set (another build, a wrapper), else the first one on PATH."""
    configured = os.environ.get("DECP_CHROMIUM")
    if configured:
        return configured
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The browser's path, or the test is skipped with a reason that says what to install."""
    path = chromium_path()
    if path is None:
        pytest.skip(SKIP_REASON)
    return path


Event = Callable[[str, dict[str, Any]], None]


class NoReplyError(AssertionError):
    """Chromium said nothing in time: hung, or busy beyond the timeout (a failure of the test all the same)."""


class Connection:
    """One DevTools websocket: commands answered by id, every event read in between handed to `on_event`.

    Single-threaded on purpose: messages are read only while the test waits (for a reply, a load event, a
    condition), so no thread races the test's asserts, and none is lost meanwhile: the socket buffers them.
    """

    def __init__(self, url: str, on_event: Event | None = None) -> None:
        # No Origin header: chromium refuses websocket clients whose origin it was not told to allow.
        self._ws = websocket.create_connection(url, timeout=REPLY_TIMEOUT, suppress_origin=True)
        self._on_event = on_event
        self._last_id = 0
        self._replies: dict[int, dict[str, Any]] = {}

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = REPLY_TIMEOUT) -> Any:
        """Sends one command and returns its result; a protocol error fails the test with chromium's words."""
        self._last_id += 1
        ident = self._last_id
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        self.pump(lambda: ident in self._replies, timeout, f"reply to {method}")
        reply = self._replies.pop(ident)
        if "error" in reply:
            raise AssertionError(f"chromium answered {method} with an error: {reply['error']}")
        return reply.get("result", {})

    def pump(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Reads messages until `done()`: replies are kept by id, events go to `on_event` as they come."""
        deadline = time.monotonic() + timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoReplyError(f"no {what} from chromium in {timeout:g} s")
            self._ws.settimeout(remaining)
            try:
                raw = self._ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError) as e:
                raise AssertionError(f"the DevTools connection broke while waiting for the {what}: {e!r}") from e
            message = json.loads(raw)
            if "id" in message:
                self._replies[message["id"]] = message
            elif self._on_event is not None and "method" in message:
                self._on_event(message["method"], message.get("params", {}))

    def close(self, timeout: float = 1) -> None:
        """Closes the websocket, waiting `timeout` for chromium's close frame (none if it hung)."""
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self._ws.close(timeout=timeout)


def _remote_text(value: dict[str, Any]) -> str:
    """A console argument (a Runtime.RemoteObject) as the console would print it."""
    if "value" in value:
        return str(value["value"])
    return str(value.get("description", value.get("type", "")))


def _exception_text(details: dict[str, Any]) -> str:
    """An uncaught exception's message: the error's own description (message and stack) when there is one."""
    exception = details.get("exception") or {}
    description = exception.get("description") or exception.get("value")
    return f"{details.get('text', 'Uncaught')} {description}" if description else str(details.get("text"))


class Page:
    """One tab. `requests` and `console_errors` fill as the page's events are read, during any wait."""

    def __init__(self, browser: Connection, target_id: str, url: str) -> None:
        self.requests: list[str] = []  # every URL requested (redirects included) since the page was opened
        self.console_errors: list[str] = []  # uncaught exceptions, then console.error calls, in order
        self._browser = browser
        self._target_id = target_id
        self._loads = 0
        self._connection: Connection | None = Connection(url, self._on_event)

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Page.loadEventFired":
            self._loads += 1
        elif method == "Runtime.exceptionThrown":
            self.console_errors.append(_exception_text(params["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.console_errors.append(" ".join(_remote_text(a) for a in params.get("args", [])))

    @property
    def connection(self) -> Connection:
        """The page's websocket, for a CDP command the helpers here do not wrap."""
        if self._connection is None:
            raise AssertionError("the page is closed")
        return self._connection

    def setup(self, width: int, height: int, mobile: bool) -> None:
        """The domains whose events the tests read, and the viewport (a phone's, touch included, if `mobile`)."""
        for domain in ("Network", "Page", "Runtime"):
            self.connection.call(f"{domain}.enable")
        scale = 1
        if mobile:
            width, height, scale = MOBILE
            self.connection.call("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        metrics = {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile}
        self.connection.call("Emulation.setDeviceMetricsOverride", metrics)

    def navigate(self, url: str, timeout: float = LOAD_TIMEOUT) -> None:
        """Opens `url` and returns once it has loaded (its images and scripts too: the load event)."""
        loads = self._loads
        result = self.connection.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise AssertionError(f"chromium could not open {url}: {result['errorText']}")
        self.connection.pump(lambda: self._loads > loads, timeout, f"load event of {url}")
        # Should the tab's first about:blank fire its load event late, it is not taken for this one's.
        ready = "document.readyState === 'complete'"
        if url != "about:blank":
            ready += " && location.href !== 'about:blank'"
        self.wait_for(ready, timeout)

    def evaluate(self, expression: str, timeout: float = REPLY_TIMEOUT) -> Any:
        """The expression's value, as JSON (a promise awaited); a page error fails the test with its message."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        result = self.connection.call("Runtime.evaluate", params, timeout)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw in the page: {_exception_text(result['exceptionDetails'])}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10) -> Any:
        """Polls until the expression is truthy and returns its value: a page's scripts may still be at work."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression, max(deadline - time.monotonic(), 1.0))
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"{expression!r} was still {value!r} after {timeout:g} s")
            time.sleep(POLL)

    def screenshot(self, path: Path | str, full_page: bool = False) -> Path:
        """A PNG of the viewport, or of the whole page (`full_page`), saved to `path`: to look at it."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.connection.call("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            params |= {"captureBeyondViewport": True, "clip": clip}
        data = self.connection.call("Page.captureScreenshot", params)["data"]
        target = Path(path)
        target.write_bytes(base64.b64decode(data))
        return target

    def disconnect(self, timeout: float = 1) -> None:
        """Closes the page's websocket only: the browser is ending, the tab with it."""
        if self._connection is not None:
            self._connection.close(timeout)
            self._connection = None

    def close(self) -> None:
        """Closes the tab and its websocket; closing twice is no error."""
        if self._connection is None:
            return
        self.disconnect()
        with contextlib.suppress(AssertionError):  # the browser may be going away too
            self._browser.call("Target.closeTarget", {"targetId": self._target_id}, STOP_TIMEOUT)


class Browser:
    """Headless chromium for one test: `with Browser(tmp_path) as browser: page = browser.open(url)`.

    A fresh profile under tmp_path (no state shared between tests) and a process group of its own, so that
    leaving the block ends the renderers and helpers too, whether the test passed, failed or hung the browser.
    """

    def __init__(self, tmp_path: Path, executable: str | None = None, stop_timeout: float = STOP_TIMEOUT) -> None:
        self.executable = executable or require_chromium()
        self.tmp_path = tmp_path
        self.stop_timeout = stop_timeout  # for each step of the shutdown: a hung browser costs twice that
        self.profile = tmp_path  # the fresh user data dir, made on entering the block
        self.stderr_path = tmp_path / "chromium.stderr"
        self.port = 0  # the DevTools port chromium chose
        self.process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None
        self._pages: list[Page] = []

    def __enter__(self) -> Browser:
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=self.tmp_path))
        self.stderr_path = self.profile.with_name(self.profile.name + ".stderr")
        command = [self.executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"]
        # Its crash reports go to $XDG_CONFIG_HOME/chromium whatever the user data dir: kept under tmp_path too.
        env = {**os.environ, "XDG_CONFIG_HOME": str(self.profile / "xdg-config")}
        with self.stderr_path.open("wb") as stderr:  # a file, not a pipe: chromium never blocks on a full one
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                start_new_session=True,  # its own process group, signalled whole at the end
            )
        try:
            self._connection = Connection(self._devtools_url())
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def stderr(self, limit: int = 4000) -> str:
        """The end of chromium's stderr: what a failure message shows."""
        try:
            return self.stderr_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def _devtools_url(self) -> str:
        """The browser's websocket, from the DevToolsActivePort file chromium writes once it listens."""
        assert self.process is not None
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                lines = port_file.read_text().split()  # the port, then the browser's path
                if len(lines) == 2 and lines[0].isdigit():
                    self.port = int(lines[0])
                    return f"ws://127.0.0.1:{self.port}{lines[1]}"
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.executable} exited with {self.process.returncode} before opening its DevTools port;"
                    f" its stderr:\n{self.stderr()}"
                )
            time.sleep(POLL)
        raise AssertionError(
            f"{self.executable} wrote no {port_file} in {START_TIMEOUT:g} s; its stderr:\n{self.stderr()}"
        )

    def open(self, url: str, width: int = 1280, height: int = 900, mobile: bool = False) -> Page:
        """A new tab on `url`, loaded, its requests and errors recorded from before the first one.

        `mobile`: a 390 x 844 phone at device pixel ratio 2, with touch; a page without a viewport meta tag
        is then laid out 980 px wide (window.innerWidth), as phones do.
        """
        if self._connection is None:
            raise AssertionError("Browser is used outside its `with` block")
        # about:blank first: the events are enabled and the viewport set before the page asks for anything.
        target_id = self._connection.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        page = Page(self._connection, target_id, f"ws://127.0.0.1:{self.port}/devtools/page/{target_id}")
        self._pages.append(page)
        page.setup(width, height, mobile)
        page.navigate(url)
        return page

    def stop(self) -> None:
        """Ends chromium and all it started: asked to close (it ends its helpers), then its group killed.

        The helpers that outlive the browser process are orphans, reaped by init (here within ~1.5 s);
        the browser process itself is reaped here. A hung browser costs `stop_timeout` more, no longer.
        """
        closing = False  # chromium was asked to close and said it would: worth waiting for
        if self._connection is not None:
            try:
                self._connection.call("Browser.close", timeout=self.stop_timeout)
                closing = True
            except NoReplyError:  # hung
                pass
            except AssertionError:  # it closed the socket before it answered: it is ending
                closing = True
            self._connection.close(1 if closing else 0)
            self._connection = None
        for page in self._pages:
            page.disconnect(1 if closing else 0)
        if self.process is None:
            return
        if closing:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(self.stop_timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):  # none left: all is well
            os.killpg(self.process.pid, signal.SIGKILL)  # what still runs, the browser if it hung
        self.process.wait()
