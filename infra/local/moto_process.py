"""The local runtime's moto server, in a process of its own.

moto answers every AWS request the functions, the pollers and the runtime make. In the runtime's
own process it shared one interpreter lock with the gateway, the Stripe stand-in, the pollers and
the demo's owners, and it was most of that process's work: on two cores, that lock was the
demo's bottleneck. Here it has a core of its own.

Beside moto's own routes this process answers ``GET /_local/outbox.json``: the e-mail and SMS
sent, read from moto's SES and SNS backends, which only this process can see.

Run by ``LocalRuntime`` (``python -m infra.local.moto_process --host H --port P``); it prints
``listening <port>`` once it accepts requests and stops when its parent closes its stdin.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from typing import IO, Any

READY = "listening"
OUTBOX_PATH = "/_local/outbox.json"


def _app() -> Callable[..., Iterable[bytes]]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from infra.local import contact_events, moto_speedups, moto_transactions, outbox

    moto_transactions.install()  # DynamoDB's transaction cost and isolation (see the module)
    moto_speedups.install()  # the same answers, each computed once (see the module)
    contact_events.install()  # SES echoes a message's tags in its events: keep them
    moto = DomainDispatcherApplication(create_backend_app)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == OUTBOX_PATH and environ.get("REQUEST_METHOD") == "GET":
            body = json.dumps(outbox.collect(), ensure_ascii=False).encode("utf-8")
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return moto(environ, start_response)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(args.host, args.port, _app(), threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    print(f"{READY} {server.server_address[1]}", flush=True)
    sys.stdin.read()  # until the parent closes it (or dies)
    server.shutdown()


class MotoProcess:
    """The parent's handle: start, its endpoint, stop."""

    def __init__(self, host: str = "127.0.0.1", log: IO[bytes] | int | None = None) -> None:
        self.host = host
        self._log = log
        self.process: subprocess.Popen[str] | None = None
        self.port: int | None = None

    def start(self, timeout_s: float = 60.0) -> MotoProcess:
        from infra.local.invoker import IMPORT_PATH, REPO_ROOT

        env = {**os.environ, "PYTHONPATH": IMPORT_PATH}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "infra.local.moto_process", "--host", self.host],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log if self._log is not None else None,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        timer = threading.Timer(timeout_s, self.process.kill)
        timer.start()
        try:
            line = self.process.stdout.readline()
        finally:
            timer.cancel()
        if not line.startswith(READY):
            self.stop()
            raise RuntimeError(f"the moto server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    @property
    def endpoint_url(self) -> str:
        assert self.port is not None, "start() first"
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
