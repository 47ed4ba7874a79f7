"""``python -m infra.local.tokens --role cashier`` (``make token ROLE=cashier``): a staff JWT from
the running local runtime, printed on stdout (use it as ``Authorization: Bearer <token>``).

The runtime signs tokens with a key pair made fresh at each start, so the token comes from
the running runtime (``POST /_local/token``); its address is read from
``.local/<property>/runtime.json``, which the runtime writes when it starts.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

from infra.local.runtime import DEFAULT_STATE_DIR


def runtime_url(property_id: str, state_dir: Path = DEFAULT_STATE_DIR) -> str:
    state = state_dir / property_id / "runtime.json"
    try:
        return json.loads(state.read_text(encoding="utf-8"))["base_url"]
    except (OSError, ValueError, KeyError):
        return "http://127.0.0.1:8000"


def request_token(base_url: str, *, roles: list[str], sub: str | None, ttl_s: int) -> dict:
    body = json.dumps({"roles": roles, "sub": sub, "ttl_s": ttl_s}).encode()
    request = urllib.request.Request(  # noqa: S310 - the local runtime's own URL
        f"{base_url}/_local/token", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.tokens", description=__doc__)
    parser.add_argument("--role", action="append", help="staff role (repeat for several); default admin")
    parser.add_argument("--sub", default=None, help="the token's subject (a staff user id)")
    parser.add_argument(
        "--ttl", type=int, default=3600, help="seconds of (simulated) time the token is valid"
    )
    parser.add_argument("--property", default="demo")
    parser.add_argument("--url", default=None, help="the runtime's base URL (default: from .local/)")
    args = parser.parse_args(argv)
    base = args.url or runtime_url(args.property)
    try:
        answer = request_token(base, roles=args.role or ["admin"], sub=args.sub, ttl_s=args.ttl)
    except urllib.error.HTTPError as exc:
        print(f"{base} refused: {exc.code} {exc.read().decode('utf-8', 'replace')}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"no local runtime at {base} ({exc}); start it with `make run`", file=sys.stderr)
        return 1
    print(answer["token"])
    print(f"roles {', '.join(answer['roles'])}, valid until {answer['expires_at']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
