"""Python side of tests/ui/drive.mjs: a headless chromium page driven line by line.

Kept in Python so browser steps interleave with assertions on what the server recorded.
``available()`` says why the browser tests must skip (no chromium, no node, no ``npm ci``).
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path

UI_DIR = Path(__file__).resolve().parent
NODE_MODULES = UI_DIR / "node_modules"
VENDOR = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "react-bootstrap.min.js": "react-bootstrap/dist/react-bootstrap.min.js",
    "bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
}


def chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def available() -> str | None:
    """None when the browser tests can run, else the reason they cannot."""
    if chromium_path() is None:
        return "chromium not found at $CHROMIUM or /usr/bin/chromium (apt-get install -y chromium)"
    if shutil.which("node") is None:
        return "node not found (apt-get install -y nodejs npm)"
    missing = [p for p in list(VENDOR.values()) + ["playwright-core/package.json"]
               if not (NODE_MODULES / p).is_file()]
    if missing:
        return f"{NODE_MODULES} lacks {missing[0]} (run: npm ci --prefix tests/ui)"
    return None


class BrowserError(AssertionError):
    pass


class Browser:
    """One chromium page; every method is one command of drive.mjs."""

    def __init__(self, timeout_ms: int = 10000):
        env = dict(os.environ, CHROMIUM=chromium_path() or "", DRIVE_TIMEOUT_MS=str(timeout_ms))
        self.timeout = timeout_ms / 1000 + 20
        self.proc = subprocess.Popen(["node", str(UI_DIR / "drive.mjs")], cwd=UI_DIR, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _call(self, cmd: str, _answer_within: float = 0, **kw):
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.proc.stdin.flush()
        try:
            line = self._lines.get(timeout=self.timeout + _answer_within)
        except queue.Empty:
            raise BrowserError(f"drive.mjs did not answer {cmd} {kw} in {self.timeout}s") from None
        if line is None:
            raise BrowserError(f"drive.mjs exited: {self.proc.stderr.read()[-2000:]}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise BrowserError(f"{cmd} {kw}: {reply['error']}")
        return reply["value"]

    def goto(self, url: str) -> None:
        problem = self._call("goto", url=url)
        if problem:
            raise BrowserError(f"harness could not load the scene: {problem}")

    def click(self, selector: str, text: str | None = None) -> None:
        self._call("click", selector=selector, text=text)

    def fill(self, selector: str, value: str) -> None:
        self._call("fill", selector=selector, value=value)

    def wait(self, selector: str, text: str | None = None, gone: bool = False,
             timeout_ms: int | None = None, exact: bool = False) -> None:
        """Until ``selector`` (containing ``text``; all of it with ``exact``) exists, or is gone."""
        self._call("wait", selector=selector, text=text, gone=gone, timeout=timeout_ms,
                   exact=exact, _answer_within=(timeout_ms or 0) / 1000)

    def texts(self, selector: str) -> list[str]:
        return self._call("texts", selector=selector)

    def count(self, selector: str, text: str | None = None) -> int:
        return self._call("count", selector=selector, text=text)

    def eval(self, expr: str):
        return self._call("eval", expr=expr)

    def until(self, expr: str, timeout_ms: int | None = None):
        """Until the page expression ``expr`` is truthy (a condition of the page itself, where
        ``wait`` for a selector does not fit); returns its value."""
        return self._call("until", expr=expr, timeout=timeout_ms,
                          _answer_within=(timeout_ms or 0) / 1000)

    def screenshot(self, selector: str, path: Path) -> None:
        self._call("screenshot", selector=selector, path=str(path))

    def logs(self) -> list[str]:
        return self._call("logs")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "close"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def build_site(root: Path, repo: Path) -> Path:
    """The static files the stand-in serves: harness, vendor builds, and the plugin's JS/CSS
    concatenated from stash_sense.yml's ui: section the way Stash's serveFiles does."""
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    for name in ("harness.html", "harness.js", "stash-theme.css"):
        shutil.copy(UI_DIR / name, root / name)
    (root / "vendor").mkdir(exist_ok=True)
    for name, rel in VENDOR.items():
        shutil.copy(NODE_MODULES / rel, root / "vendor" / name)
    ui = (yaml.safe_load((repo / "stash_sense.yml").read_text()) or {}).get("ui") or {}
    plugin = root / "plugin" / "stash_sense"
    plugin.mkdir(parents=True, exist_ok=True)
    for key, out in (("javascript", "javascript.js"), ("css", "css.css")):
        files = ui.get(key) or []
        if not files:
            raise AssertionError(f"stash_sense.yml ui.{key} lists no files")
        (plugin / out).write_text("\n".join((repo / f).read_text() for f in files))
    return root
