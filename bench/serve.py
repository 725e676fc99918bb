"""Serve one system under test in its own process: `python -m bench.serve {service|baseline} PORT URI DB`."""

from __future__ import annotations

import logging
import sys

import uvicorn


def main() -> None:
    system, port, uri, database = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    logging.basicConfig(level=logging.WARNING)
    if system == "service":
        from tmf_common.settings import Settings
        from tmf_server.app import create_app

        # API-only, like the baseline: no engine, event relay or delivery competes for the database here.
        app = create_app(Settings(database_name=database, deliver_events=False, run_engine=False), uri)
    else:
        from bench.baseline_app import create_baseline_app

        app = create_baseline_app(uri, database)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
