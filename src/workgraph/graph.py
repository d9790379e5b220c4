"""The graph as a value: ordered records, readiness (spec core 6) and cycles (7.1). Pure: no I/O, no clock.

A ``Graph`` remembers the records it was loaded with, so a transaction can tell which records a change
touched (to stamp ``last_interaction_at`` and to reuse untouched lines byte for byte).
"""

from __future__ import annotations

from .model import PENDING_EVAL, TERMINAL, is_system
from .timeutil import parse_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from .model import Record

CYCLE_EXCLUDED_PREFIXES = (".assign-", ".flip-", ".evaluate-", ".place-")


class Graph:
    """Records by id in file order (tasks and resources). Mutate only through ``put``/``remove``."""

    __slots__ = ("_dependents", "loaded", "records", "removed", "touched")

    def __init__(self, records: dict[str, Record] | None = None) -> None:
        self.records: dict[str, Record] = records if records is not None else {}
        self.loaded: dict[str, Record] = dict(self.records)
        self.touched: set[str] = set()
        self.removed: set[str] = set()
        self._dependents: dict[str, list[str]] | None = None

    # -- access -------------------------------------------------------------------------------
    def __contains__(self, task_id: object) -> bool:
        return task_id in self.records

    def __len__(self) -> int:
        return len(self.records)

    def get(self, task_id: str) -> Record | None:
        rec = self.records.get(task_id)
        return rec if rec is not None and rec.get("kind") == "task" else None

    def tasks(self) -> Iterator[Record]:
        for rec in self.records.values():
            if rec.get("kind") == "task":
                yield rec

    def ids(self) -> Iterable[str]:
        return self.records.keys()

    # -- change -------------------------------------------------------------------------------
    def put(self, record: Record) -> None:
        """Insert or replace a record (a replaced one keeps its position)."""
        rid = record["id"]
        self.records[rid] = record
        self.touched.add(rid)
        self.removed.discard(rid)
        self._dependents = None

    def update(self, task_id: str, **changes: object) -> Record:
        """Copy the task, apply ``changes`` (None deletes a key), store it; returns the new record."""
        rec = dict(self.records[task_id])
        for key, value in changes.items():
            if value is None:
                rec.pop(key, None)
            else:
                rec[key] = value
        self.put(rec)
        return rec

    def remove(self, task_id: str) -> None:
        if self.records.pop(task_id, None) is not None:
            self.removed.add(task_id)
            self.touched.discard(task_id)
            self._dependents = None

    def add_dependency(self, task_id: str, dep: str) -> bool:
        """``task.after += dep`` and ``dep.before += task`` (when dep exists). False if already there."""
        task = self.records[task_id]
        after = list(task.get("after") or [])
        changed = False
        if dep not in after:
            after.append(dep)
            self.update(task_id, after=after)
            changed = True
        dep_rec = self.get(dep)
        if dep_rec is not None:
            before = list(dep_rec.get("before") or [])
            if task_id not in before:
                before.append(task_id)
                self.update(dep, before=before)
                changed = True
        return changed

    def remove_dependency(self, task_id: str, dep: str) -> bool:
        task = self.records[task_id]
        after = list(task.get("after") or [])
        changed = dep in after
        if changed:
            after.remove(dep)
            self.update(task_id, after=after or None)
        dep_rec = self.get(dep)
        if dep_rec is not None and task_id in (dep_rec.get("before") or ()):
            before = [b for b in dep_rec["before"] if b != task_id]
            self.update(dep, before=before or None)
        return changed

    # -- derived ------------------------------------------------------------------------------
    def dependents(self, task_id: str) -> list[str]:
        """Tasks whose ``after`` holds ``task_id``, in graph order (computed, not read from ``before``)."""
        if self._dependents is None:
            deps: dict[str, list[str]] = {}
            for rec in self.tasks():
                for d in rec.get("after") or ():
                    deps.setdefault(d, []).append(rec["id"])
            self._dependents = deps
        return self._dependents.get(task_id, [])

    def referrers(self, task_id: str) -> list[str]:
        """Other tasks whose current ``after`` lists ``task_id``, in graph order (a scan; no cache)."""
        return [r["id"] for r in self.tasks() if r["id"] != task_id and task_id in (r.get("after") or ())]


# -- readiness --------------------------------------------------------------------------------


def time_ready(task: Record, now: int) -> bool:
    for key in ("not_before", "ready_after"):
        t = parse_ts(task.get(key), naive_ok=True) if task.get(key) else None
        if t is not None and now < t:
            return False
    if task.get("cron_enabled"):
        nxt = parse_ts(task.get("next_cron_fire"))
        if nxt is not None and now < nxt:
            return False
    return True


def dependency_satisfied(graph: Graph, task: Record, dep_id: str) -> bool:
    dep = graph.get(dep_id)
    if dep is None:
        return False
    status = dep.get("status", "open")
    if is_system(task["id"]):
        return status in ("done", "abandoned") or status in PENDING_EVAL
    if status not in ("done", "abandoned"):
        return False
    gate = graph.get(".evaluate-" + dep_id)
    return gate is None or gate.get("status") in TERMINAL


def dispatchable(task: Record, now: int) -> bool:
    """Rules (1)-(3): status open/incomplete, not paused, time gates passed."""
    return task.get("status") in ("open", "incomplete") and not task.get("paused") and time_ready(task, now)


def unsatisfied_deps(
    graph: Graph, task: Record, ignore: frozenset[tuple[str, str]] = frozenset()
) -> list[str]:
    tid = task["id"]
    return [
        d
        for d in task.get("after") or ()
        if (d, tid) not in ignore and not dependency_satisfied(graph, task, d)
    ]


class Readiness:
    """Which tasks are ready now, with the auto-break-in messages to print (spec core 6)."""

    def __init__(self, graph: Graph, now: int, *, exempt_back_edges: bool = True) -> None:
        self.graph = graph
        self.now = now
        self.break_in_messages: list[str] = []
        self.cycles: list[list[str]] = []
        self.back_edges: frozenset[tuple[str, str]] = frozenset()
        candidates = [t for t in graph.tasks() if dispatchable(t, now)]
        blocked = [t for t in candidates if unsatisfied_deps(graph, t)]
        if blocked and exempt_back_edges:
            self.cycles, self.back_edges = find_cycles(graph)
        ready_ids = {t["id"] for t in candidates if not unsatisfied_deps(graph, t, self.back_edges)}
        if exempt_back_edges:
            self._break_in(ready_ids)
        self.ready_ids = ready_ids
        self.ready = [t for t in candidates if t["id"] in ready_ids]

    def _break_in(self, ready_ids: set[str]) -> None:
        for members in self.cycles:
            recs = [self.graph.get(m) for m in members]
            if any(r is not None and r.get("cycle_config") for r in recs):
                continue
            if any(m in ready_ids for m in members):
                continue
            for rec in sorted((r for r in recs if r is not None), key=lambda r: r["id"]):
                if dispatchable(rec, self.now):
                    ready_ids.add(rec["id"])
                    at = members.index(rec["id"])  # the path starts at the selected task
                    path = " → ".join(members[at:] + members[:at])
                    self.break_in_messages.append(
                        f"Auto-break-in: selecting task '{rec['id']}' to break cycle deadlock "
                        f"in unconfigured cycle [{path}]"
                    )
                    break


def ready_tasks(graph: Graph, now: int) -> list[Record]:
    return Readiness(graph, now).ready


# -- cycles -----------------------------------------------------------------------------------


def _cycle_nodes(graph: Graph) -> dict[str, list[str]]:
    """Successor lists (id order) of the cycle graph of 7.1, restricted to tasks that can be on a cycle.

    A task with no predecessor (or no successor) left is on no cycle; peeling such tasks repeatedly
    (Kahn's algorithm, both directions) leaves every cycle intact and, in a mostly acyclic graph, almost
    nothing else, so Tarjan's search below stays cheap on 100k tasks.
    """
    succ: dict[str, list[str]] = {}
    for t in graph.tasks():
        tid = t["id"]
        if tid[:1] != "." or not tid.startswith(CYCLE_EXCLUDED_PREFIXES):
            succ[tid] = []
    pred: dict[str, list[str]] = {}
    for tid in succ:
        deps = [d for d in graph.records[tid].get("after") or () if d in succ]
        if deps:
            pred[tid] = deps
            for d in deps:
                succ[d].append(tid)
    alive = _peel(succ, pred)
    return {n: sorted(c for c in succ[n] if c in alive) for n in alive}


def _peel(succ: dict[str, list[str]], pred: dict[str, list[str]]) -> set[str]:
    indeg = {n: len(pred.get(n, ())) for n in succ}
    outdeg = {n: len(succ[n]) for n in succ}
    stack = [n for n in succ if not indeg[n] or not outdeg[n]]
    removed: set[str] = set()
    while stack:
        n = stack.pop()
        if n in removed:
            continue
        removed.add(n)
        for c in succ[n]:
            indeg[c] -= 1
            if indeg[c] == 0 and c not in removed:
                stack.append(c)
        for p in pred.get(n, ()):
            outdeg[p] -= 1
            if outdeg[p] == 0 and p not in removed:
                stack.append(p)
    return {n for n in succ if n not in removed}


def strongly_connected(succ: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; nodes visited in id order. Each component sorted by id."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(succ):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, i = work[-1]
            children = succ[node]
            if i < len(children):
                work[-1] = (node, i + 1)
                child = children[i]
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                out.append(sorted(comp))
    return out


def find_cycles(graph: Graph) -> tuple[list[list[str]], frozenset[tuple[str, str]]]:
    """Cycles (members in DFS order from the header) and their back-edges ``(dep, task)``."""
    succ = _cycle_nodes(graph)
    cycles: list[list[str]] = []
    back: set[tuple[str, str]] = set()
    for comp in strongly_connected(succ):
        if len(comp) == 1:
            only = comp[0]
            if only not in succ[only]:
                continue
            cycles.append(comp)
            back.add((only, only))
            continue
        members = set(comp)
        header = _header(graph, comp, members)
        order, edges = _back_edges(succ, header, members)
        cycles.append(order)
        back.update(edges)
    return cycles, frozenset(back)


def _header(graph: Graph, comp: list[str], members: set[str]) -> str:
    for tid in comp:  # comp is id-sorted
        task = graph.get(tid)
        if task and any(d not in members and d in graph for d in task.get("after") or ()):
            return tid
    return comp[0]


def _back_edges(
    succ: dict[str, list[str]], header: str, members: set[str]
) -> tuple[list[str], set[tuple[str, str]]]:
    order: list[str] = [header]
    seen = {header}
    on_path = {header}
    edges: set[tuple[str, str]] = set()
    work: list[tuple[str, int]] = [(header, 0)]
    while work:
        node, i = work[-1]
        kids = [c for c in succ[node] if c in members]
        if i < len(kids):
            work[-1] = (node, i + 1)
            child = kids[i]
            if child in on_path:
                edges.add((node, child))
            elif child not in seen:
                seen.add(child)
                on_path.add(child)
                order.append(child)
                work.append((child, 0))
            continue
        work.pop()
        on_path.discard(node)
    return order, edges


def cycle_of(graph: Graph, task_id: str) -> list[str] | None:
    """Members of the cycle holding ``task_id`` (7.1), or its implicit cycle via ``cycle_config`` (7.2)."""
    cycles, _ = find_cycles(graph)
    for members in cycles:
        if task_id in members:
            return members
    task = graph.get(task_id)
    if task is not None and task.get("cycle_config"):
        return [task_id, *[d for d in task.get("after") or () if d in graph]]
    return None


def would_create_cycle(graph: Graph, task_id: str, dep: str) -> list[str] | None:
    """If adding ``task.after += dep`` closes a loop, the path ``[task, ..., dep]`` (dep reaches task)."""
    if dep == task_id:
        return [task_id]
    # Is task_id an ancestor of dep? i.e. is there a path task_id -> ... -> dep along dependents edges.
    parents: dict[str, str | None] = {task_id: None}
    frontier = [task_id]
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for child in graph.dependents(node):
                if child in parents:
                    continue
                parents[child] = node
                if child == dep:
                    path = [dep]
                    cur: str | None = node
                    while cur is not None:
                        path.append(cur)
                        cur = parents[cur]
                    return list(reversed(path))
                nxt.append(child)
        frontier = nxt
    return None


def closure(graph: Graph, seeds: Iterable[str], forward: bool = True, backward: bool = False) -> list[str]:
    """Transitive closure over dependents (forward) and/or dependencies (backward), seeds included."""
    seen: dict[str, None] = {}
    stack = [s for s in seeds if s in graph]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen[node] = None
        if forward:
            stack.extend(graph.dependents(node))
        if backward:
            task = graph.get(node)
            if task:
                stack.extend(d for d in task.get("after") or () if d in graph)
    return list(seen)
