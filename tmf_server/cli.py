"""The `tmf-server` command: serve the APIs, run the embedded database, build it, load the example catalog."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import uvicorn

from tmf_common.embedded_db import EmbeddedDatabaseError, build_ferretdb, start_database
from tmf_common.settings import Settings

log = logging.getLogger("tmf.cli")


@contextmanager
def database_uri(settings: Settings) -> Iterator[str]:
    """TMF_MONGODB_URI when set; otherwise the embedded server, stopped when the block ends."""
    if settings.mongodb_uri:
        yield settings.mongodb_uri
        return
    running = start_database(settings.data_dir)
    log.warning("Embedded %s serving %s with data in %s", running.kind, running.uri, settings.data_dir.resolve())
    try:
        yield running.uri
    finally:
        running.stop()
        log.warning("Embedded %s stopped", running.kind)


def serve(settings: Settings) -> None:
    from tmf_server.app import create_app

    with database_uri(settings) as uri:
        app = create_app(settings, uri)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)


def run_database(settings: Settings) -> None:
    with database_uri(settings) as uri:
        print(f"MongoDB-protocol server ready: {uri}  (Ctrl-C stops it)", flush=True)
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with suppress(KeyboardInterrupt):
            stopped.wait()


def load_catalog(base_url: str, directory: Path | None, order_file: Path | None) -> None:
    from tmf_server.example_catalog import REFERENCE_ORDER, load_example_catalog, order_for_catalog

    created = load_example_catalog(base_url, directory) if directory else load_example_catalog(base_url)
    for key, resource in created.items():
        print(f"{key}: {resource.get('href')}")
    if order_file is not None:
        # The example order names offerings by their catalog keys; the server gave them ids just now.
        order = order_for_catalog(json.loads(REFERENCE_ORDER.read_text(encoding="utf-8")), created)
        order_file.write_text(json.dumps(order, indent=2) + "\n", encoding="utf-8")
        print(f"reference order for this catalog: {order_file}")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="tmf-server", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve every API (embedded database unless TMF_MONGODB_URI is set)")
    commands.add_parser("db", help="run only the embedded database, for any MongoDB client")
    commands.add_parser("build-db", help="build the embedded FerretDB into the cache (no-op when built)")
    loader = commands.add_parser("load-catalog", help="load the example catalog through the public API")
    loader.add_argument("--url", default=None, help="service base URL (default http://TMF_HOST:TMF_PORT)")
    loader.add_argument("--directory", type=Path, default=None)
    loader.add_argument(
        "--write-order", type=Path, default=None, help="write the reference order, naming this catalog's offerings"
    )
    arguments = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        if arguments.command == "serve":
            serve(settings)
        elif arguments.command == "db":
            run_database(settings)
        elif arguments.command == "build-db":
            print(build_ferretdb())
        elif arguments.command == "load-catalog":
            url = arguments.url or f"http://{settings.host}:{settings.port}"
            load_catalog(url, arguments.directory, arguments.write_order)
    except EmbeddedDatabaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
