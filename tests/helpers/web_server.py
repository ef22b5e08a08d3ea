"""A web server of kavan (`kavan serve`'s or `kavan label`'s) running in a thread while a test talks to it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def running(server) -> Iterator:
    """Serve from a daemon thread while the block runs; then stop, close the socket and wait for the thread."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
