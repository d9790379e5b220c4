"""A small declarative argument parser.

Why not click: importing click costs ~21 ms, three times the interpreter's own start-up, and ``wg`` is
called by agents hundreds of times a day (see docs/ARCHITECTURE.md). This parser is stdlib-only, knows
wg's global flags, and produces the spec's usage errors (exit 2) itself.
"""

from __future__ import annotations

from ..errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from .context import Ctx

    Runner = Callable[[Ctx, "Args"], int | None]


class Opt:
    """An option. ``value`` options take an argument; ``multiple`` collects repeats (``csv`` splits commas)."""

    __slots__ = (
        "choices",
        "default",
        "dest",
        "help",
        "hidden",
        "metavar",
        "multiple",
        "names",
        "type",
        "value",
    )

    def __init__(
        self,
        *names: str,
        dest: str | None = None,
        value: bool = True,
        multiple: bool = False,
        csv: bool = False,
        type: Callable[[str], Any] | None = None,
        default: Any = None,
        help: str = "",
        metavar: str | None = None,
        choices: Sequence[str] | None = None,
        hidden: bool = False,
    ) -> None:
        self.names = names
        long = next((n for n in names if n.startswith("--")), names[0])
        self.dest = dest or long.lstrip("-").replace("-", "_")
        self.value = value
        self.multiple = multiple or csv
        self.type: Any = "csv" if csv else type
        self.default = default
        self.help = help
        self.metavar = metavar or self.dest.upper()
        self.choices = choices
        self.hidden = hidden


def flag(*names: str, dest: str | None = None, help: str = "", hidden: bool = False) -> Opt:
    return Opt(*names, dest=dest, value=False, default=False, help=help, hidden=hidden)


class Arg:
    __slots__ = ("help", "name", "required", "variadic")

    def __init__(self, name: str, required: bool = True, variadic: bool = False, help: str = "") -> None:
        self.name, self.required, self.variadic, self.help = name, required, variadic, help


class Cmd:
    """A command: positional ``args``, ``opts``, and either a ``run`` function or ``subs`` (a group)."""

    def __init__(
        self,
        name: str,
        help: str,
        run: Runner | None = None,
        args: Sequence[Arg] = (),
        opts: Sequence[Opt] = (),
        conflicts: Sequence[tuple[str, str]] = (),
        subs: Sequence[Cmd] = (),
        json: bool = True,
        default_sub: str | None = None,
    ) -> None:
        self.name, self.help, self.run = name, help, run
        self.args, self.opts, self.conflicts = list(args), list(opts), list(conflicts)
        self.subs = {s.name: s for s in subs}
        self.json = json
        self.default_sub = default_sub
        self.by_name: dict[str, Opt] = {}
        for o in [*self.opts, *GLOBAL_OPTS]:
            for n in o.names:
                self.by_name[n] = o

    def usage(self, path: str) -> str:
        parts = [f"Usage: wg {path}"]
        if self.subs:
            parts.append("<COMMAND>")
        if self.opts:
            parts.append("[OPTIONS]")
        for a in self.args:
            label = a.name.upper() + ("..." if a.variadic else "")
            parts.append(f"<{label}>" if a.required else f"[{label}]")
        return " ".join(parts)

    def help_text(self, path: str) -> str:
        lines = [self.help, "", self.usage(path)]
        if self.subs:
            lines += ["", "Commands:"]
            lines += [f"  {s.name:<18} {s.help}" for s in self.subs.values()]
        if self.args:
            lines += ["", "Arguments:"]
            lines += [f"  {a.name.upper():<26} {a.help}" for a in self.args]
        lines += ["", "Options:"]
        for o in [*self.opts, *GLOBAL_OPTS]:
            if o.hidden:
                continue
            names = ", ".join(o.names) + (f" <{o.metavar}>" if o.value else "")
            lines.append(f"  {names:<26} {o.help}")
        return "\n".join(lines)


class Args(dict):  # type: ignore[type-arg]  # dict[str, Any] would import typing at run time
    """Parsed values by ``dest``; ``given`` holds the dests set on the command line."""

    def __init__(self) -> None:
        super().__init__()
        self.given: set[str] = set()
        self.cmd_path = ""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


GLOBAL_OPTS = [
    Opt("--dir", help="Use this .wg directory (or project root)", metavar="PATH"),
    flag("--json", help="Machine-readable output"),
    flag("-h", "--help", help="Print help"),
]


def _convert(opt: Opt, name: str, raw: str, usage: str) -> Any:
    if opt.choices is not None and raw not in opt.choices:
        raise UsageError(
            f"invalid value '{raw}' for '{name}' (possible values: {', '.join(opt.choices)})", usage
        )
    if opt.type is None or opt.type == "csv":
        return raw
    try:
        return opt.type(raw)
    except (ValueError, TypeError):
        kind = {int: "integer", float: "number"}.get(opt.type, "value")
        raise UsageError(f"invalid {kind} value '{raw}' for '{name}'", usage) from None


def parse(cmd: Cmd, tokens: Sequence[str], path: str) -> Args:
    usage = cmd.usage(path)
    out = Args()
    out.cmd_path = path
    for o in [*cmd.opts, *GLOBAL_OPTS]:
        out[o.dest] = [] if o.multiple else o.default
    positional: list[str] = []
    i = 0
    only_positional = False
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if only_positional or tok == "-" or not tok.startswith("-") or _is_negative_number(tok):
            positional.append(tok)
            continue
        if tok == "--":
            only_positional = True
            continue
        name, eq, inline = tok.partition("=")
        opt = cmd.by_name.get(name)
        if opt is None:
            raise UsageError(f"unexpected argument '{name}' found", usage)
        if not opt.value:
            if eq:
                raise UsageError(
                    f"unexpected value '{inline}' for '{name}' found; no more were expected", usage
                )
            out[opt.dest] = True
            out.given.add(opt.dest)
            continue
        if eq:
            raw = inline
        elif i < len(tokens):
            raw = tokens[i]
            i += 1
        else:
            raise UsageError(f"a value is required for '{name} <{opt.metavar}>' but none was supplied", usage)
        value = _convert(opt, name, raw, usage)
        out.given.add(opt.dest)
        if opt.type == "csv":
            out[opt.dest].extend(p.strip() for p in value.split(",") if p.strip())
        elif opt.multiple:
            out[opt.dest].append(value)
        else:
            out[opt.dest] = value
    if out.get("help"):
        return out
    _bind_positionals(cmd, positional, out, usage)
    for a_name, b_name in cmd.conflicts:
        a, b = cmd.by_name[a_name], cmd.by_name[b_name]
        if a.dest in out.given and b.dest in out.given:
            raise UsageError(f"{a_name} cannot be used with {b_name}", usage)
    return out


def _is_negative_number(tok: str) -> bool:
    return len(tok) > 1 and tok[0] == "-" and tok[1:].replace(".", "", 1).isdigit()


def _bind_positionals(cmd: Cmd, positional: list[str], out: Args, usage: str) -> None:
    idx = 0
    for a in cmd.args:
        if a.variadic:
            out[a.name] = positional[idx:]
            idx = len(positional)
            if a.required and not out[a.name]:
                raise UsageError(
                    f"the following required arguments were not provided: <{a.name.upper()}>", usage
                )
            continue
        if idx < len(positional):
            out[a.name] = positional[idx]
            idx += 1
        elif a.required:
            raise UsageError(f"the following required arguments were not provided: <{a.name.upper()}>", usage)
        else:
            out[a.name] = None
    if idx < len(positional):
        raise UsageError(f"unexpected argument '{positional[idx]}' found", usage)
