"""Headless Chromium driven over the DevTools protocol on a pipe (no extra package).

``--remote-debugging-pipe`` makes Chromium read protocol commands from file descriptor 3
and write answers and events to descriptor 4, each message JSON ended by a NUL byte.
``Browser`` opens one page, navigates, evaluates JavaScript, clicks at an element's
centre with real mouse events, takes screenshots and lets downloads land in a folder.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--remote-debugging-pipe",
)  # fmt: skip


class BrowserError(AssertionError):
    """A protocol error, a JavaScript exception or a wait that timed out."""


class Browser:
    """One Chromium process with one page (a test's whole browser session)."""

    def __init__(self, profile: Path, downloads: Path, width: int = 1440, height: int = 1000):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        assert binary, "chromium is missing: run scripts/system-deps.sh"
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        # bash puts our pipe ends at the descriptors Chromium expects, then execs it (not
        # sh: dash refuses descriptor numbers above 9).
        script = f'exec "$@" 3<&{to_browser} 4>&{from_browser}'
        self.log = profile.with_suffix(".log")
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                ["bash", "-c", script, "bash", binary, *FLAGS, f"--user-data-dir={profile}"],
                pass_fds=(to_browser, from_browser),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._id = 0
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._session = attached["sessionId"]
        self.send(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.page("Emulation.setDeviceMetricsOverride", metrics)

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close")
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        os.close(self._write)
        os.close(self._read)

    # --- protocol

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        """One command; its result (events that arrive meanwhile are dropped)."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._next(30.0)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def page(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.send(method, params, self._session)

    def _next(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise BrowserError("chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed the protocol pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    # --- page actions

    def goto(self, url: str) -> None:
        self.page("Page.navigate", {"url": url})

    def js(self, expression: str) -> Any:
        """The value of ``expression`` (awaited when it is a promise)."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        result = self.page("Runtime.evaluate", params)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 20.0) -> Any:
        """Polls ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        last: BrowserError | None = None
        while time.monotonic() < deadline:
            try:
                value = self.js(expression)
            except BrowserError as exc:  # e.g. the context went away with a navigation
                last, value = exc, None
            if value:
                return value
            time.sleep(0.1)
        raise BrowserError(f"timed out waiting for {expression} (last error: {last})")

    def click(self, selector: str) -> None:
        """A real left click at the centre of the first element matching ``selector``."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        if box is None:
            raise BrowserError(f"nothing matches {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            event = {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1}
            self.page("Input.dispatchMouseEvent", event)

    def back(self) -> None:
        """The browser's back button."""
        history = self.page("Page.getNavigationHistory")
        entry = history["entries"][history["currentIndex"] - 1]
        self.page("Page.navigateToHistoryEntry", {"entryId": entry["id"]})

    def screenshot(self, path: Path) -> None:
        shot = self.page("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(shot["data"]))
