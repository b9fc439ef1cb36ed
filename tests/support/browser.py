"""A small headless-Chromium driver over the DevTools protocol (websocket-client), for the report tests.

`Browser()` starts Debian's `chromium` (installing it with apt-get when missing and running as root),
`browser.visit(url)` loads a page and returns what went wrong on it: console errors, uncaught
exceptions, failed requests, images that did not load, links to files that do not exist or to
anchors that are not there; `visit(..., screenshot=path)` saves a full-page PNG.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_binary() -> str:
    """The browser to drive; installed from Debian when missing and we are root, else a clear error."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        path = shutil.which("chromium")
        if path:
            return path
    raise RuntimeError("the browser tests need headless Chromium: install Debian's package with "
                       "`sudo apt-get install --no-install-recommends chromium` (or put chromium on PATH)")


@dataclass
class Visit:
    url: str
    problems: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


# Run in the page after load: images that did not render, and every link's target.
_INSPECT = """
(() => {
  const images = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id).concat([...document.querySelectorAll('a[name]')].map(e => e.name));
  const text = document.body ? document.body.innerText : '';
  // the prose: what a reader reads as text (code and preformatted blocks such as the provenance JSON are literal)
  const clone = document.body ? document.body.cloneNode(true) : null;
  if (clone) clone.querySelectorAll('pre, code, script, style, math').forEach(e => e.remove());
  const prose = clone ? clone.textContent : '';
  // what sticks out of a 1280 px window: a table wider than the page must fit or wrap, not scroll off
  const wide = [...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().right > window.innerWidth + 1)
    .map(t => Math.round(t.getBoundingClientRect().right) + ' px: ' + (t.innerText || '').slice(0, 60).replace(/\\s+/g, ' '));
  return JSON.stringify({images, links, ids, text, prose, wide});
})()
"""


class Browser:
    def __init__(self, *, width: int = 1280, height: int = 900, timeout: float = 60.0):
        import websocket  # websocket-client

        self.timeout = timeout
        self.width = width
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        self._proc = subprocess.Popen(
            [chromium_binary(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--remote-debugging-port=0",
             "--allow-file-access-from-files", f"--user-data-dir={self._profile}", f"--window-size={width},{height}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + timeout
        port = None
        while port is None:
            line = self._proc.stderr.readline()
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                port = int(match.group(1))
            elif not line and (self._proc.poll() is not None or time.monotonic() > deadline):
                raise RuntimeError("chromium did not start its DevTools endpoint")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        target = json.loads(urllib.request.urlopen(request, timeout=timeout).read())
        self._ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True)
        self._id = 0
        self._events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params):
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def _wait_for(self, event: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if any(message.get("method") == event for message in self._events):
                return  # the events before it (console, network) stay for the visit's report
            self._events.append(json.loads(self._ws.recv()))
        raise TimeoutError(f"no {event} within {self.timeout} s")

    def visit(self, url: str, *, screenshot: Path | None = None) -> Visit:
        self._events.clear()
        self.call("Page.navigate", url=url)
        self._wait_for("Page.loadEventFired")
        time.sleep(0.2)  # late console messages and lazy images
        inspected = json.loads(self.call("Runtime.evaluate", expression=_INSPECT, returnByValue=True)["result"]["value"])
        late = self._wait_for_images()
        visit = Visit(url, links=inspected["links"])
        for message in self._events:
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                visit.problems.append("console error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                visit.problems.append("uncaught exception: " + params.get("exceptionDetails", {}).get("text", ""))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                visit.problems.append("console error: " + params["entry"].get("text", "") + " " + params["entry"].get("url", ""))
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                visit.problems.append(f"failed request: {params.get('errorText')} ({params.get('type')})")
        for src in late["images"]:
            visit.problems.append(f"image did not load: {src}")
        visit.problems += [p for p in _broken_links(url, inspected["links"], set(inspected["ids"]))]
        visit.problems += [f"raw TeX in the text: ...{m}..." for m in raw_tex(late["prose"])]
        visit.problems += [f"table wider than the {self.width} px window (ends at {w})" for w in late["wide"]]
        if screenshot is not None:
            metrics = self.call("Page.getLayoutMetrics")["cssContentSize"]
            shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                             clip={"x": 0, "y": 0, "width": metrics["width"], "height": min(metrics["height"], 16000), "scale": 1})
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        return visit

    def _wait_for_images(self) -> dict:
        """The page inspected once every image has finished (loaded or failed).

        The pages' images are loading="lazy": a headless window loads only those near the
        viewport, so a check right after load would call the lower ones missing (and a screenshot
        would show them blank). They are switched to eager loading and awaited; an image that is
        truly missing finishes too (complete, but with no natural width) and is reported.
        """
        self.call("Runtime.evaluate", expression="document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
        deadline = time.monotonic() + self.timeout
        while True:
            pending = self.call("Runtime.evaluate", expression="[...document.images].filter(i => !i.complete).length",
                                returnByValue=True)["result"]["value"]
            if pending == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        return json.loads(self.call("Runtime.evaluate", expression=_INSPECT, returnByValue=True)["result"]["value"])

    def close(self) -> None:
        try:
            self._ws.close()
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


#: LaTeX a reader should never see: math is typeset (MathML in the HTML, mathtext in figures).  Any
#: control sequence (\lambda, \big, \left) or control symbol (\|, \{) left in the prose is one.
_RAW_TEX = re.compile(r"\^\{|_\{|\\(?:[A-Za-z]+|[|{}!,;:])|\$[^$\s][^$]{0,40}\$")


def raw_tex(text: str) -> list[str]:
    """Snippets of the visible text around raw TeX (at most five)."""
    return [text[max(0, m.start() - 25):m.end() + 25].replace("\n", " ") for m in _RAW_TEX.finditer(text)][:5]


def local_path(url: str) -> Path | None:
    parsed = urllib.parse.urlparse(url)
    return Path(urllib.parse.unquote(parsed.path)) if parsed.scheme == "file" else None


def _ids_in_file(path: Path) -> set[str]:
    return set(re.findall(r'\b(?:id|name)="([^"]+)"', path.read_text(errors="replace")))


def _broken_links(page_url: str, links: list[str], page_ids: set[str]) -> list[str]:
    """Local links whose file does not exist, or whose #anchor is not in the target; web links are
    not followed (the reports must work offline) but are not errors."""
    problems = []
    page = local_path(page_url)
    for link in links:
        path = local_path(link)
        if path is None:
            continue
        fragment = urllib.parse.urlparse(link).fragment
        if not path.exists():
            problems.append(f"broken link: {link}")
        elif fragment:
            ids = page_ids if page is not None and path == page else (_ids_in_file(path) if path.suffix == ".html" else None)
            if ids is not None and urllib.parse.unquote(fragment) not in ids:
                problems.append(f"broken anchor: {link}")
    return problems
