"""HTTP mode of ``bench/search.py``: the peer's ``search_bench.py`` against stacql and,
when given, the peer, run back to back so that both see the same machine load.

``../shared/peer/search_bench.py`` owns the request mix (seeded pools, closed loops,
nearest-rank percentiles, id digests); this module only drives it for two servers,
alternating which one goes first per round, and prints the figures side by side with
the issue's targets: our p50 at most half the peer's, our requests/s at concurrency 8
at least twice the peer's, and the same item ids.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PEER_BENCH = REPO.parent / "shared" / "peer" / "search_bench.py"
# The /search kinds of the issue plus the collection's items page; `collections` is left
# out (it does not search items).
DEFAULT_TYPES = (
    "items", "search_bbox", "search_bbox_datetime", "search_intersects", "search_filter",
    "search_sortby", "paging",
)


def load_peer_bench(path: Path = PEER_BENCH) -> ModuleType:
    """Import the peer's standard-library benchmark script as a module."""
    spec = importlib.util.spec_from_file_location("search_bench", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Runs:
    """Every timed run of one server, keyed by (type, concurrency)."""

    name: str
    base_url: str
    rows: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    verify: dict[str, dict[str, Any]] = field(default_factory=dict)

    def median(self, kind: str, concurrency: int, metric: str) -> float:
        """The median of ``metric`` over the rounds."""
        return statistics.median(r[metric] for r in self.rows[(kind, concurrency)])

    def errors(self, kind: str, concurrency: int) -> int:
        """Failed ops over all rounds."""
        return sum(r["errors"] for r in self.rows[(kind, concurrency)])


@dataclass(frozen=True)
class Plan:
    """What to run: types, concurrency levels, seconds per run, rounds."""

    types: tuple[str, ...]
    levels: tuple[int, ...]
    duration: float
    warmup: float
    rounds: int
    seed: int
    collection: str
    limit: int
    verify: int
    timeout: float = 60.0
    max_ops: int = 200_000


def _pools(sb: ModuleType, plan: Plan, base_url: str) -> dict[str, list[Any]]:
    pools = {
        kind: sb.build_pool(kind, plan.seed, 1000, plan.collection, plan.limit)
        for kind in plan.types
    }
    prefix = sb.Client(base_url, plan.timeout).prefix
    if prefix:
        pools = {k: [(m, prefix + p, b) for (m, p, b) in pool] for k, pool in pools.items()}
    return pools


def _run_one(sb: ModuleType, plan: Plan, runs: Runs, kind: str, level: int) -> None:
    pool = _pools(sb, plan, runs.base_url)[kind]
    if plan.warmup > 0:
        sb.closed_loop(runs.base_url, kind, pool, level, plan.warmup, plan.max_ops, plan.timeout)
    records, elapsed = sb.closed_loop(
        runs.base_url, kind, pool, level, plan.duration, plan.max_ops, plan.timeout
    )
    row = sb.summarize(kind, level, records, elapsed)
    runs.rows.setdefault((kind, level), []).append(row)
    print(f"  {runs.name:5} {kind:22} c={level:<2} {row['ops_per_s']:8.1f} ops/s  "
          f"p50={row['p50_ms']:.1f} ms  p95={row['p95_ms']:.1f} ms  err={row['errors']}",
          file=sys.stderr, flush=True)


def run(sb: ModuleType, plan: Plan, servers: list[Runs]) -> None:
    """Verify every server once, then run the rounds, alternating the server order."""
    for runs in servers:
        if plan.verify > 0:
            runs.verify = sb.verify(runs.base_url, _pools(sb, plan, runs.base_url),
                                    plan.verify, plan.timeout)
    for number in range(plan.rounds):
        print(f"round {number + 1}/{plan.rounds}", file=sys.stderr, flush=True)
        order = servers if number % 2 == 0 else servers[::-1]
        for kind in plan.types:
            for level in plan.levels:
                for runs in order:
                    _run_one(sb, plan, runs, kind, level)


def _same_ids(ours: Runs, peer: Runs | None, kind: str) -> str:
    if peer is None or not ours.verify or not peer.verify:
        return "-"
    a, b = ours.verify[kind], peer.verify[kind]
    return "yes" if a["ids_digest"] == b["ids_digest"] and not a["errors"] else "NO"


def table(plan: Plan, ours: Runs, peer: Runs | None) -> str:
    """Median figures per type and concurrency, ours beside the peer's, with the targets."""
    head = (f"{'type':21} {'c':>2} | {'p50':>7} {'p95':>7} {'req/s':>7} |"
            f" {'peer p50':>8} {'p95':>7} {'req/s':>7} | {'p50 x':>6} {'req/s x':>7}"
            f" {'same ids':>8}  target")
    lines = [head, "-" * len(head)]
    for kind in plan.types:
        for level in plan.levels:
            p50, p95 = ours.median(kind, level, "p50_ms"), ours.median(kind, level, "p95_ms")
            rps = ours.median(kind, level, "ops_per_s")
            line = f"{kind:21} {level:>2} | {p50:7.1f} {p95:7.1f} {rps:7.1f} |"
            if peer is None:
                lines.append(line)
                continue
            q50, q95 = peer.median(kind, level, "p50_ms"), peer.median(kind, level, "p95_ms")
            qps = peer.median(kind, level, "ops_per_s")
            goals = [p50 <= q50 / 2] + ([rps >= 2 * qps] if level == max(plan.levels) else [])
            lines.append(
                f"{line} {q50:8.1f} {q95:7.1f} {qps:7.1f} | {q50 / p50:5.2f}x {rps / qps:6.2f}x"
                f" {_same_ids(ours, peer, kind):>8}  {'met' if all(goals) else 'NOT met'}"
            )
    errors = sum(ours.errors(k, c) for k in plan.types for c in plan.levels)
    lines.append(
        f"\nmedians of {plan.rounds} round(s) of {plan.duration:g} s per run; p50/p95 in ms "
        f"(paging: one op = first page + 5 next pages); 'p50 x' = peer p50 / ours, "
        f"'req/s x' = ours / peer; target: p50 x >= 2 at every concurrency and req/s x >= 2 "
        f"at c={max(plan.levels)}; errors (ours): {errors}"
    )
    return "\n".join(lines)


def main_http(args: Any) -> int:
    """Entry point of ``bench/search.py --base-url ...``."""
    sb = load_peer_bench(Path(args.peer_bench))
    types = tuple(t.strip() for t in args.types.split(",") if t.strip())
    unknown = sorted(set(types) - set(sb.TYPES))
    if unknown:
        raise SystemExit(f"unknown types {unknown}; choose among {', '.join(sb.TYPES)}")
    plan = Plan(
        types=types,
        levels=tuple(int(c) for c in args.concurrency.split(",") if c.strip()),
        duration=args.duration, warmup=args.warmup_seconds, rounds=args.rounds,
        seed=args.seed, collection=args.collection, limit=args.limit, verify=args.verify,
    )
    ours = Runs("ours", args.base_url)
    peer = Runs("peer", args.peer_url) if args.peer_url else None
    servers = [ours] + ([peer] if peer else [])
    for runs in servers:
        status, _, _ = sb.Client(runs.base_url, plan.timeout).request("GET", "/")
        if status != 200:
            raise SystemExit(f"{runs.name}: {runs.base_url} answered HTTP {status}")
    run(sb, plan, servers)
    print(table(plan, ours, peer))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "plan": plan.__dict__,
            "servers": {
                r.name: {"base_url": r.base_url, "verify": r.verify,
                         "runs": [row for rows in r.rows.values() for row in rows]}
                for r in servers
            },
        }, indent=1))
    return 1 if any(ours.errors(k, c) for k in plan.types for c in plan.levels) else 0
