"""The embedded MongoDB-protocol server: a `mongod` on PATH, else FerretDB 1.24.2 built once from its Go module."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.2"
# FerretDB 1.24's SQLite backend looks a document up by `_ferretdb_sjson->'$._id'`, but the unique `_id` index it
# creates is on `_ferretdb_sjson->"_id"`. SQLite uses an expression index only for the same expression, so every
# find, update and delete by `_id` read the whole table: 26 ms instead of 0.4 ms for an update among 3,000
# documents of 5 kB. The build points the lookup at the index's own expression; both name the same JSON member, so
# nothing else changes (stored data, indexes and results are the same).
ID_LOOKUP_FIX = (
    Path("internal/backends/sqlite/metadata/metadata.go"),
    "IDColumn = DefaultColumn + \"->'$._id'\"",
    "IDColumn = DefaultColumn + \"->'_id'\"",
)
BUILD_NAME = f"ferretdb-{FERRETDB_VERSION}-idlookup"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE_DIR = PROJECT_ROOT / ".cache"
START_TIMEOUT_SECONDS = 60.0

log = logging.getLogger(__name__)


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database cannot be built or started; the message says what to do instead."""


@dataclass
class RunningDatabase:
    uri: str
    process: subprocess.Popen[bytes]
    kind: str
    log_path: Path

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ferretdb_binary(cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    return cache_dir / "bin" / BUILD_NAME


def build_ferretdb(cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """Build FerretDB once into the cache; later calls return the existing binary.

    `go install .../cmd/ferretdb@v1.24.2` gives a binary that panics at start, because the module archive lacks
    the generated `build/version/version.txt` that FerretDB embeds. So the module source is downloaded through
    the Go module proxy, that one file is written, the `_id` lookup is fixed (ID_LOOKUP_FIX), and
    `cmd/ferretdb` is built from the copy.
    """
    binary = ferretdb_binary(cache_dir)
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        raise EmbeddedDatabaseError(
            "No MongoDB-protocol server available: install Go (to build the embedded FerretDB) or MongoDB "
            "(a `mongod` on PATH), or set TMF_MONGODB_URI to a running MongoDB 6+ server."
        )
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local")}
    log.warning("Building FerretDB %s once into %s (takes a few minutes)", FERRETDB_VERSION, binary)
    download = subprocess.run(
        [go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
        capture_output=True,
        check=False,
        env=env,
        cwd=cache_dir.parent if cache_dir.parent.exists() else None,
    )
    if download.returncode != 0:
        raise EmbeddedDatabaseError(f"Cannot download FerretDB: {download.stderr.decode(errors='replace')}")
    module_dir = Path(json.loads(download.stdout)["Dir"])
    source = cache_dir / "src" / f"ferretdb-{FERRETDB_VERSION}"
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(module_dir, source)
    for path in source.rglob("*"):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    (source / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
    _apply_id_lookup_fix(source)
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    build = subprocess.run(
        [go, "build", "-trimpath", "-o", str(partial), "./cmd/ferretdb"],
        cwd=source,
        capture_output=True,
        check=False,
        env=env,
    )
    if build.returncode != 0:
        raise EmbeddedDatabaseError(f"Cannot build FerretDB: {build.stderr.decode(errors='replace')[-4000:]}")
    partial.rename(binary)
    shutil.rmtree(source, ignore_errors=True)
    return binary


def _apply_id_lookup_fix(source: Path) -> None:
    relative, before, after = ID_LOOKUP_FIX
    path = source / relative
    text = path.read_text()
    if text.count(before) != 1:
        raise EmbeddedDatabaseError(f"Cannot apply the _id lookup fix: {relative} does not contain {before!r}")
    path.write_text(text.replace(before, after))


def _wait_until_accepting(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedDatabaseError(
                f"The database exited with code {process.returncode}: {log_path.read_text(errors='replace')[-2000:]}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise EmbeddedDatabaseError(f"The database did not accept connections within {START_TIMEOUT_SECONDS}s")


def start_database(data_dir: Path, *, port: int | None = None, cache_dir: Path = DEFAULT_CACHE_DIR) -> RunningDatabase:
    """Start a server on a free loopback port with its data under data_dir; the caller stops it."""
    port = port or free_loopback_port()
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    mongod = shutil.which("mongod")
    if mongod is not None:
        store = data_dir / "mongod"
        store.mkdir(exist_ok=True)
        command = [mongod, "--bind_ip", "127.0.0.1", "--port", str(port), "--dbpath", str(store), "--quiet"]
        kind = "mongod"
    else:
        binary = build_ferretdb(cache_dir)
        store = data_dir / "ferretdb"
        state = data_dir / "ferretdb-state"
        store.mkdir(exist_ok=True)
        state.mkdir(exist_ok=True)
        command = [
            str(binary),
            f"--listen-addr=127.0.0.1:{port}",
            "--handler=sqlite",
            f"--sqlite-url=file:{store}/",
            f"--state-dir={state}",
            "--debug-addr=-",
            "--telemetry=disable",
            "--log-level=warn",
        ]
        kind = "ferretdb"
    log_path = data_dir / f"{kind}.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _wait_until_accepting(port, process, log_path)
    return RunningDatabase(uri=f"mongodb://127.0.0.1:{port}/", process=process, kind=kind, log_path=log_path)
