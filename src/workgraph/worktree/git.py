"""Running the ``git`` CLI with argv lists (spec worktrees.md: all git work goes through ``git -C <dir>``)."""

from __future__ import annotations

import os
import subprocess

from ..errors import WgError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# Variables that would make git act on another repository than the one we name with -C.
_STRIP = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_OBJECT_DIRECTORY",
)


class GitError(WgError):
    def __init__(self, args: Sequence[str], code: int, stderr: str) -> None:
        detail = stderr.strip().splitlines()
        super().__init__(
            f"git {' '.join(args)} failed (exit {code}): {detail[-1] if detail else ''}".rstrip()
        )
        self.code = code
        self.stderr = stderr


class Result:
    __slots__ = ("code", "err", "out")

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def ok(self) -> bool:
        return self.code == 0


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIP}
    env["LC_ALL"] = "C"
    env["LANGUAGE"] = "C"
    env["GIT_TERMINAL_PROMPT"] = "0"
    if extra:
        env.update(extra)
    return env


def run(
    cwd: str,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    input: str | None = None,
    no_hooks: bool = False,
    keep_fds: Sequence[int] = (),
) -> Result:
    """``git -C cwd args``; ``keep_fds`` stay open in the child (the landing lock, see land.py)."""
    argv = ["git", "-C", cwd]
    if no_hooks:
        argv += ["-c", "core.hooksPath=/dev/null"]
    argv += list(args)
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="surrogateescape",
            env=env or git_env(),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            pass_fds=tuple(keep_fds),
        )
    except OSError as exc:
        raise WgError(f"Cannot run git: {exc.strerror}") from None
    res = Result(proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise GitError(args, proc.returncode, proc.stderr)
    return res


def out(cwd: str, *args: str, **kw: object) -> str:
    return run(cwd, *args, **kw).out.strip()  # type: ignore[arg-type]


def rev(cwd: str, name: str) -> str | None:
    """The commit a name resolves to, or None."""
    res = run(cwd, "rev-parse", "--verify", "-q", f"{name}^{{commit}}", check=False)
    return res.out.strip() or None if res.ok else None


def is_repo_with_commits(root: str) -> tuple[bool, bool]:
    """(is a git working tree, has at least one commit)."""
    res = run(root, "rev-parse", "--is-inside-work-tree", check=False)
    if not res.ok or res.out.strip() != "true":
        return False, False
    return True, rev(root, "HEAD") is not None


def current_branch(cwd: str) -> str | None:
    """The branch checked out in ``cwd`` (None when detached or not a repository)."""
    res = run(cwd, "symbolic-ref", "-q", "HEAD", check=False)
    ref = res.out.strip()
    return ref[len("refs/heads/") :] if res.ok and ref.startswith("refs/heads/") else None


def head_ref(cwd: str) -> str | None:
    res = run(cwd, "symbolic-ref", "-q", "HEAD", check=False)
    return res.out.strip() if res.ok else None


def common_dir(root: str) -> str:
    path = out(root, "rev-parse", "--git-common-dir")
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(root, path))


def z_list(text: str) -> list[str]:
    return [p for p in text.split("\0") if p]


def porcelain(cwd: str) -> list[str]:
    """``git status --porcelain`` lines (``XY path``), untracked included, ignored excluded."""
    res = run(cwd, "status", "--porcelain", "-z", "--untracked-files=all")
    lines: list[str] = []
    parts = res.out.split("\0")
    i = 0
    while i < len(parts):
        entry = parts[i]
        i += 1
        if not entry:
            continue
        lines.append(entry)
        if entry[:1] in ("R", "C"):  # a rename/copy carries its source path as the next field
            i += 1
    return lines


def checkouts(root: str) -> list[tuple[str, str | None]]:
    """Every checkout of the repository: (path, checked-out ref or None), from ``git worktree list``."""
    res = run(root, "worktree", "list", "--porcelain", "-z", check=False)
    if not res.ok:
        return []
    found: list[tuple[str, str | None]] = []
    path: str | None = None
    ref: str | None = None
    bare = False
    for field in [*res.out.split("\x00"), ""]:
        if not field:
            if path is not None and not bare:
                found.append((path, ref))
            path, ref, bare = None, None, False
        elif field.startswith("worktree "):
            path = field[len("worktree ") :]
        elif field.startswith("branch "):
            ref = field[len("branch ") :]
        elif field == "bare":
            bare = True
    return found
