"""The kiosk screen: one page, its live updates, and the same state as JSON.

`GET /` is the page (for Chromium in kiosk mode on the lane's touchscreen), `GET /events`
streams the lane's state as server-sent events, `GET /api/state` returns it once.
Nothing here changes the station: every other method and path is refused. The state
holds masked names and numbers only, and the server listens on loopback unless the
site's config says otherwise.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from station.screen_page import PAGE

log = logging.getLogger("station.screen")

PUSH_EVERY_S = 1.0   # the link and backlog change without a scan: refresh anyway


class ThreadingHTTPServer6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class Screen:
    def __init__(self, address: tuple[str, int], view: Callable[[], dict[str, Any]]) -> None:
        self.view = view
        self._version = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        server = ThreadingHTTPServer6 if ":" in address[0] else ThreadingHTTPServer
        self.server = server(address, self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="screen",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def start(self) -> None:
        self._thread.start()
        log.info("screen at %s", self.url)

    def changed(self) -> None:
        """Something the operator should see happened: push it now."""
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def stop(self) -> None:
        self._stop.set()
        self.changed()
        self.server.shutdown()
        self.server.server_close()

    def _wait(self, seen: int) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self._version != seen or self._stop.is_set(),
                                   timeout=PUSH_EVERY_S)
            return self._version

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (ScreenHandler,), {"screen": self})

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()


class ScreenHandler(BaseHTTPRequestHandler):
    """GET only: the page, its live updates, the state as JSON. `screen` is set on the
    subclass each Screen makes."""

    server_version = "natest-station"
    screen: Screen

    def do_GET(self) -> None:
        if self.path == "/":
            self._send(200, "text/html; charset=utf-8", PAGE.encode())
        elif self.path == "/api/state":
            self._send(200, "application/json",
                       json.dumps(self.screen.view(), ensure_ascii=False).encode())
        elif self.path == "/events":
            self._events()
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def _refuse(self) -> None:
        self._send(405, "text/plain; charset=utf-8", b"this screen only shows\n",
                   allow="GET")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _send(self, code: int, kind: str, body: bytes, **headers: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name.capitalize(), value)
        self.end_headers()
        self.wfile.write(body)

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        screen = self.screen
        seen = screen._version
        try:
            while not screen.stopping:
                state = json.dumps(screen.view(), ensure_ascii=False)
                self.wfile.write(f"data: {state}\n\n".encode())
                self.wfile.flush()
                seen = screen._wait(seen)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away or reloaded

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)
