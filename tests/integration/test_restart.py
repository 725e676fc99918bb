"""`tmf-server serve` as a user runs it: embedded database, Ctrl-C stops both, data survives a restart."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.conftest import CATALOG_BASE
from tests.support import wait_for
from tmf_common.embedded_db import free_loopback_port

EMBEDDED_LINE = re.compile(r"Embedded \w+ serving mongodb://127\.0\.0\.1:(\d+)/")


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_service(data_dir: Path, port: int) -> Iterator[tuple[str, int, subprocess.Popen[str]]]:
    env = {key: value for key, value in os.environ.items() if key != "TMF_MONGODB_URI"}
    env.update({"TMF_DATA_DIR": str(data_dir), "TMF_PORT": str(port), "TMF_HOST": "127.0.0.1"})
    process = subprocess.Popen(
        [sys.executable, "-m", "tmf_server.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    database_port = 0
    try:
        for line in process.stderr:
            lines.append(line)
            match = EMBEDDED_LINE.search(line)
            if match:
                database_port = int(match.group(1))
                break
        assert database_port, "".join(lines)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(base + "/ready", timeout=2).status_code == 200, timeout=60, what="readiness")
        yield base, database_port, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


def test_data_survives_restart_and_ctrl_c_stops_the_database(tmp_path: Path) -> None:
    port = free_loopback_port()
    with running_service(tmp_path, port) as (base, database_port, process):
        created = requests.post(
            base + CATALOG_BASE + "/productOffering", json={"name": "Survivor", "isBundle": False}, timeout=10
        )
        assert created.status_code == 201, created.text
        offering_id = created.json()["id"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    assert not _port_open(port)
    wait_for(lambda: not _port_open(database_port), timeout=15, what="the embedded database to stop")

    with running_service(tmp_path, port) as (base, _, _):
        fetched = requests.get(base + CATALOG_BASE + f"/productOffering/{offering_id}", timeout=10)
        assert fetched.status_code == 200
        assert fetched.json()["name"] == "Survivor"
