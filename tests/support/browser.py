"""Headless Chromium (Debian's ``chromium`` package) driven over the DevTools protocol, loopback only.

No browser is downloaded: the test uses ``/usr/bin/chromium`` (or ``chromium`` on PATH) and skips
with the reason when it is absent (fails under ``CI=true``, like the service fixtures). The
browser gets a fresh profile, no background networking, and a host-resolver rule that resolves
every name but 127.0.0.1 to nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from sheepfold.testing import in_ci
from tests.support.ports import spare_port

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]
#: Every name resolves to nothing but 127.0.0.1 and the names a test maps to it.
RESOLVE_NOTHING_ELSE = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def chromium_path() -> str:
    """The Chromium binary; skips the test (with the apt packages to install) when there is none."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = "Chromium is not installed (apt-get install chromium)"
        if in_ci():
            pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
        pytest.skip(reason)
    return path


#: What DevTools answers an evaluation sent while the page is being replaced.
_NAVIGATING = ("navigated or closed", "Execution context was destroyed", "Cannot find context")


class Browser:
    """One headless Chromium with one page; :meth:`evaluate` runs JavaScript in it."""

    def __init__(self, loopback_names: tuple[str, ...] = ()) -> None:
        """``loopback_names`` resolve to 127.0.0.1 (a page served under a name that is not "localhost")."""
        self.port = spare_port()
        rules = [f"MAP {name} 127.0.0.1" for name in loopback_names] + [RESOLVE_NOTHING_ELSE]
        self.profile = tempfile.TemporaryDirectory(prefix="sheepfold-chromium-")
        self.process = subprocess.Popen(
            [chromium_path(), *FLAGS, f"--host-resolver-rules={', '.join(rules)}",
             f"--user-data-dir={self.profile.name}", f"--remote-debugging-port={self.port}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its helper processes share the session: they are ended together
        )  # fmt: skip
        self._ids = itertools.count(1)
        self._connection: Any = None
        self.events: list[dict[str, Any]] = []  # DevTools events received so far (after e.g. Network.enable)

    async def __aenter__(self) -> Browser:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    targets = (await client.get(f"http://127.0.0.1:{self.port}/json/list")).json()
                    page = next(target for target in targets if target["type"] == "page")
                    break
                except (httpx.HTTPError, StopIteration, ValueError):
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise RuntimeError("Chromium did not open its DevTools endpoint") from None
                    await asyncio.sleep(0.1)
        self._connection = await websockets.connect(page["webSocketDebuggerUrl"], max_size=None)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._end_chromium()
        self.profile.cleanup()

    def _end_chromium(self) -> None:
        # Chromium's helpers (zygote, renderers, crashpad) can outlive the browser process and still be
        # writing to the profile: end the whole process group before the profile is removed.
        group = self.process.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.killpg(group, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)

    async def command(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events in between are kept in :attr:`events`)."""
        number = next(self._ids)
        await self._connection.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            reply = json.loads(await self._connection.recv())
            if "method" in reply and "id" not in reply:
                self.events.append(reply)
            elif reply.get("id") == number:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def events_of(self, method: str) -> list[dict[str, Any]]:
        """The events named ``method`` (``"Network.requestWillBeSent"``) received so far."""
        return [event for event in self.events if event["method"] == method]

    async def open(self, url: str) -> None:
        await self.command("Page.navigate", url=url)
        await self.wait_until("document.readyState === 'complete' && location.href.startsWith('http')")

    async def evaluate(self, expression: str) -> Any:
        result = await self.command("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def viewport(self, width: int, height: int) -> None:
        """Lay the page out as on a screen of ``width`` x ``height`` CSS pixels (a phone, a laptop)."""
        await self.command(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=width < 600
        )

    async def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """Save the page as a PNG at ``path`` (the whole page with ``full_page``, else the viewport)."""
        result = await self.command("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(result["data"]))
        return path

    async def wait_until(self, expression: str, timeout: float = 10.0) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        async with asyncio.timeout(timeout):
            while not (value := await self._evaluate_unless_navigating(expression)):
                await asyncio.sleep(0.05)
        return value

    async def _evaluate_unless_navigating(self, expression: str) -> Any:
        # Between two pages there is no page to ask: a form's submission, a redirect. Ask again.
        try:
            return await self.evaluate(expression)
        except RuntimeError as error:
            if any(sign in str(error) for sign in _NAVIGATING):
                return None
            raise
