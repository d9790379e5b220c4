"""Compact JSON through CPython's ``_json`` accelerator, without importing the ``json`` package.

Why: ``import json`` pulls in ``re`` and ``enum`` (~6 ms, most of a 1k-task ``wg ready``). The C scanner and
encoder behind ``json.loads``/``json.dumps`` are usable directly; results are identical to
``json.loads(s)`` and ``json.dumps(o, ensure_ascii=False, separators=(",", ":"))``. Errors (rare) fall back
to the ``json`` package for its precise messages. Pretty output (``--json``) still uses ``json``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    import _json
except ImportError:  # another interpreter: use the json package
    _json = None  # type: ignore[assignment]


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


class _ScanContext:
    """The attributes ``_json.make_scanner`` reads from a JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constant)
    memo: dict[str, str] = {}  # noqa: RUF012 (read by the C scanner, which clears it)


def _no_default(obj: object) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


if _json is not None:
    _scan: Callable[[str, int], tuple[Any, int]] = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]
    _encode: Callable[[Any, int], Any] = _json.make_encoder(
        None, _no_default, _json.encode_basestring, None, ":", ",", False, False, True
    )

    def loads(text: str) -> Any:
        """Parse one JSON value (surrounding whitespace allowed); ValueError when invalid."""
        start, end = 0, len(text)
        while start < end and text[start] in " \t\r\n":
            start += 1
        while end > start and text[end - 1] in " \t\r\n":
            end -= 1
        try:
            obj, stop = _scan(text, start)
        except StopIteration:
            return _precise_error(text)
        if stop != end:
            return _precise_error(text)
        return obj

    def dumps(obj: Any) -> str:
        """Compact form: no spaces, non-ASCII unescaped."""
        return "".join(_encode(obj, 0))

else:

    def loads(text: str) -> Any:
        import json

        return json.loads(text)

    def dumps(obj: Any) -> str:
        import json

        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _precise_error(text: str) -> Any:
    import json

    return json.loads(text)  # raises json.JSONDecodeError (a ValueError) with position details
