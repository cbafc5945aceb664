"""Helpers of the browser tests: a headless Chromium driver, its console and network logs, screenshots."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.paths import REPO

SCREENSHOTS = REPO / "build" / "screenshots"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER_CANDIDATES = ("chromedriver",)
WAIT = 120  # seconds: a bounded wait that fails when the page hangs, not a speed target
# Headers the stage proxy sets itself rather than copying from the upstream answer.
HOP_HEADERS = {"connection", "transfer-encoding", "content-length", "server", "date"}


def missing_browser(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the browser is missing in CI: {reason} (`make browser` installs it)")
    pytest.skip(f"{reason}; `make browser` installs it")


def which_binary(candidates: tuple[str, ...]) -> str | None:
    return next((path for name in candidates if (path := shutil.which(name))), None)


def make_driver(binaries: tuple[str, str], width: int = 1280, height: int = 900) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = binaries
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        # No calls home: component updates, field trials, the safe-browsing list, sync.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        "--metrics-recording-only",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def wait_for(driver: Any, condition: Any, message: str = "", timeout: float = WAIT) -> Any:
    """WebDriverWait(...).until(condition, message), polling every 0.1 s for at most `timeout` seconds."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message)


def console_errors(driver: Any) -> list[dict[str, Any]]:
    """The browser console's SEVERE entries since the last call (errors, CSP violations, failed loads)."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page requested since the last call (from Chromium's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def off_host(urls: list[str], host: str = "127.0.0.1") -> list[str]:
    """The URLs among `urls` that leave `host` (data: and blob: URLs never leave the page)."""
    return [
        url
        for url in urls
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname != host
    ]


def save_screenshot(driver: Any, name: str) -> Path:
    """The page as build/screenshots/NAME.png (the whole page's height, not only the window)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, max(int(height) + 120, 400))
    driver.save_screenshot(str(path))
    return path


class StagePrefix:
    """API Gateway's stage in front of `hng serve`: http://127.0.0.1:PORT/dev/X is served's X and any other
    path a 404, so a URL that loses the stage fails as it would on AWS. Redirects are passed on, not
    followed; `requested` lists every path asked for."""

    def __init__(self, upstream: str, stage: str = "dev") -> None:
        self.upstream, self.prefix = urlsplit(upstream), f"/{stage}/"
        self.requested: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.prefix}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def forward(self) -> None:
                proxy.requested.append(self.path)
                root = proxy.prefix.rstrip("/")  # /dev, which API Gateway serves as the stage's root too
                if self.path == root or self.path.startswith(root + "?"):
                    self.path = proxy.prefix + self.path[len(root) :]
                if not self.path.startswith(proxy.prefix):
                    self.send_error(404, "outside the stage")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=60
                )
                try:
                    path = self.path[len(proxy.prefix) - 1 :]
                    upstream.request(self.command, path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_HEADERS:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = forward

        return Handler

    def __enter__(self) -> StagePrefix:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=30)
