"""``python -m infra.local --property demo`` (``make run``): the local runtime until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from infra.config import ConfigError, load_config
from infra.local.runtime import LocalRuntime, RuntimeOptions


def banner(runtime: LocalRuntime) -> str:
    base = runtime.base_url
    missing = runtime.functions.missing
    lines = [
        "",
        f"PropDesk local runtime: {runtime.config.name.en} ({runtime.config.property_id}), moto on 127.0.0.1",
        "",
        f"  API base URL        {base}",
        f"  Outbox              {base}/_local/outbox",
        f"  API documentation   {base}/_local/docs",
        f'  Clock               {base}/_local/clock   (POST {{"advance": "P1D"}} or {{"to": "2027-01-17T09:00"}})',
        f'  Staff token         make token ROLE=cashier   (or POST {base}/_local/token {{"role": "cashier"}})',
        f"  Stripe stand-in     {runtime.stripe_base_url}   (webhooks go to {base}/webhooks/stripe)",
        f"  Units               {runtime.units_imported}",
    ]
    if missing:
        lines.append(f"  DID NOT START       {', '.join(sorted(missing))} (see the log above)")
    lines += [
        "",
        f"Ready! Your webhook signing secret is {runtime.secrets.stripe_webhook_secret} (^C to quit)",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--property", default="demo", help="property id (infra/properties/<id>.yaml)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="gateway port (0: any free port)")
    parser.add_argument("--stripe-port", type=int, default=0, help="Stripe stand-in port (0: any free port)")
    parser.add_argument("--no-import", action="store_true", help="do not import the property's units CSV")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.add_argument(
        "--log-dir",
        default=None,
        help="write each function's log to <dir>/<function>.log (default: this terminal)",
    )
    args = parser.parse_args(argv)

    # The runtime's own messages at INFO; libraries (botocore, werkzeug, ...) only when they warn.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("propdesk.local").setLevel(logging.INFO)
    try:
        config = load_config(args.property)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    options = RuntimeOptions(
        host=args.host,
        port=args.port,
        stripe_port=args.stripe_port,
        access_log=not args.quiet,
        import_units=not args.no_import,
        log_dir=Path(args.log_dir) if args.log_dir else None,
    )
    runtime = LocalRuntime(config, options)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():  # a second ^C while shutting down: give up at once
            raise KeyboardInterrupt
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    try:
        runtime.start()
        print(banner(runtime), flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping...", file=sys.stderr, flush=True)
        runtime.stop()
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is stopped and written; skip the interpreter's slow teardown of the emulator's
    # and the functions' objects (seconds after a full run).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
