"""Real server processes for tests: `python -m tmf_server.cli serve` on its own loopback port, against a given
database, killed or stopped by the test (use them through a context manager so that a failing test ends them too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support import wait_for
from tmf_common.embedded_db import free_loopback_port


class Server:
    """One `tmf-server serve` process on its own port, logging to a file (a pipe nobody reads would block it).

    `environment` holds the TMF_* settings of the test; the caller's own TMF_* variables are not inherited, and the
    database and address variables are always set here.
    """

    def __init__(self, mongodb_uri: str, database: str, log_dir: Path, environment: Mapping[str, str]) -> None:
        self.port = free_loopback_port()
        self.log_path = log_dir / f"server-{self.port}.log"
        full = {key: value for key, value in os.environ.items() if not key.startswith("TMF_")}
        full.update(environment)
        full.update(
            {
                "TMF_MONGODB_URI": mongodb_uri,
                "TMF_DATABASE": database,
                "TMF_HOST": "127.0.0.1",
                "TMF_PORT": str(self.port),
            }
        )
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tmf_server.cli", "serve"], env=full, stdout=log, stderr=log
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> Server:
        def ready() -> bool:
            assert self.process.poll() is None, f"the server exited:\n{self.log_path.read_text()}"
            return requests.get(self.url + "/ready", timeout=2).status_code == 200

        wait_for(ready, timeout=60, interval=0.05, what=f"the server on port {self.port}")
        return self

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def interrupt(self) -> None:
        """Ask for a clean shutdown without waiting for it (see stop)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def stop(self) -> None:
        self.interrupt()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def running_servers(
    mongodb_uri: str, database: str, log_dir: Path, environment: Mapping[str, str], count: int = 1
) -> Iterator[list[Server]]:
    """`count` ready server processes with the same environment on `database`; all ended on the way out, also when
    one fails to start or the test fails (a process the test killed already is left as it is)."""
    started: list[Server] = []
    try:
        for _ in range(count):
            started.append(Server(mongodb_uri, database, log_dir, environment))
        yield [server.wait_ready() for server in started]
    finally:
        try:
            for server in started:
                server.interrupt()  # all shut down at once, then each is waited for (and killed if it hangs)
            for server in started:
                server.stop()
        finally:
            # Also when stopping failed or was interrupted (a test timeout): none outlives the test.
            for server in started:
                if server.process.poll() is None:
                    server.process.kill()
            for server in started:
                server.process.wait(timeout=10)
