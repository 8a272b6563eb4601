"""A real server (gunicorn with several workers) on the test database, for concurrency
and browser tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from support.app import TEST_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(database_uri: str, instance: Path, workers: int = 4, **settings: str):
    """Serve the app with gunicorn on a free port; yields the base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_uri,
        "SECRET_KEY": TEST_SECRET,
        "SURVEY_INSTANCE_PATH": str(instance),
        "PUBLIC_BASE_URL": base,
        "SUBMIT_RATE_LIMIT": "100000 per minute",
        "ALLOW_PER_PROCESS_LIMITS": "1",  # several workers; the limits are not under test
        **settings,
    }
    env.pop("FLASK_DEBUG", None)
    gunicorn_bin = Path(sys.executable).with_name("gunicorn")
    log = open(instance / "gunicorn.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [str(gunicorn_bin), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--timeout", "60", "--graceful-timeout", "5", "survey:create_app()"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while True:
            try:
                if requests.get(base + "/", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if process.poll() is not None or time.time() > deadline:
                log.flush()
                raise RuntimeError("gunicorn did not start:\n" +
                                   (instance / "gunicorn.log").read_text()[-3000:])
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
