"""Stripe's form encoding: the nested keys the SDK sends, decoded to nested values."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from infra.local.stripe.errors import StripeError


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding to nested values: ``a[b][0][c]=x`` -> ``{"a": {"b": [{"c": "x"}]}}``."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head] + ([part.rstrip("]") for part in ("[" + rest).split("[")[1:]] if rest else [])
        if not head or any(part == "" for part in path):
            raise StripeError(f"Invalid parameter name: {key}", code="parameter_unknown", param=key)
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StripeError(f"Invalid array or hash: {key}", param=key)
        if isinstance(node.get(path[-1]), dict):
            raise StripeError(f"Invalid array or hash: {key}", param=key)
        node[path[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    """A hash whose keys are all indexes (``0``, ``1``, ...) is an array, in index order."""
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted
