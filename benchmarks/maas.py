"""MaaS trip-planner hot paths, side by side with the named peers, by section.

roads: on Terre Haute (tests/data) and Porto (shared/data/mobility, skipped if absent): OSM import
    cold and from the cache, contraction-hierarchy preprocessing and reload, then the same N random
    car node-to-node queries with our CH query, our plain bidirectional Dijkstra and
    ``scipy.sparse.csgraph.dijkstra(graph, indices=src)`` (its time per single-pair query),
    every cost checked equal; plus full point-to-point ``RoadRouter.route`` (snap both points,
    CH, unpack, GeoJSON geometry). Goal from issue 5: road point-to-point p50 <= 5 ms on Porto.
transit, plan: to be added (write ``bench_transit(console, args) -> dict`` and register it in
    SECTIONS).

    python benchmarks/maas.py [--sections roads] [--queries 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.sparse.csgraph import dijkstra

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maas.ch import HierarchyQuery, hierarchy_for  # noqa: E402
from maas.osm import RoadNetwork, import_osm  # noqa: E402
from maas.roads import OutsideNetwork, RoadRouter  # noqa: E402

CITIES = {
    "Terre Haute": ROOT / "tests" / "data" / "mobility" / "terre-haute.osm.pbf",
    "Porto": ROOT.parent / "shared" / "data" / "mobility" / "porto.osm.pbf",
}
OUT = ROOT / "var" / "bench" / "maas.json"
GOAL_P50_MS = 5.0


def _ms(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def _bench_city(console: Console, name: str, path: Path, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="maas-bench-") as cache:
        net, cold_s = _timed(lambda: import_osm(path, cache, contract=()))
        loads = [_timed(lambda: import_osm(path, cache, contract=()))[1] for _ in range(3)]
        net = import_osm(path, cache, contract=())
        _, ch_build_s = _timed(lambda: hierarchy_for(net, "car"))
        h, ch_load_s = _timed(lambda: HierarchyQuery(hierarchy_for(net, "car")))
        assert isinstance(net, RoadNetwork)
        router = RoadRouter(net, "car", h.h)
        router.prepare()
        _, lists_s = _timed(router._lists)  # pure-Python adjacency for the Dijkstra reference

        rng = np.random.default_rng(args.seed)
        active = np.flatnonzero(np.diff(net.car.indptr) > 0)
        src = rng.choice(active, args.queries).tolist()
        dst = rng.choice(active, args.queries).tolist()
        csr = net.car.csr()
        t_ch: list[float] = []
        t_bi: list[float] = []
        t_sp: list[float] = []
        mismatches = 0
        reachable = 0
        for s, t in zip(src, dst, strict=True):
            t0 = time.perf_counter()
            c_ch, _ = router.search([(s, 0.0)], [(t, 0.0)], "ch")
            t1 = time.perf_counter()
            c_bi, _ = router.search([(s, 0.0)], [(t, 0.0)], "dijkstra")
            t2 = time.perf_counter()
            c_sp = float(dijkstra(csr, indices=s)[t])
            t3 = time.perf_counter()
            t_ch.append(t1 - t0)
            t_bi.append(t2 - t1)
            t_sp.append(t3 - t2)
            reachable += math.isfinite(c_sp)
            for c in (c_ch, c_bi):
                if not (c == c_sp or math.isclose(c, c_sp, rel_tol=1e-9)):
                    mismatches += 1

        # point-to-point as the planner calls it: two points ~100 m off random car nodes
        pts = np.column_stack((net.node_lat[src], net.node_lon[src])) + rng.uniform(
            -1e-3, 1e-3, (len(src), 2)
        )
        pts2 = np.column_stack((net.node_lat[dst], net.node_lon[dst])) + rng.uniform(
            -1e-3, 1e-3, (len(dst), 2)
        )
        router.snap(float(pts[0, 0]), float(pts[0, 1]))  # build the snapping index outside the timing
        t_route: list[float] = []
        outside = 0
        for (a_lat, a_lon), (b_lat, b_lon) in zip(pts.tolist(), pts2.tolist(), strict=True):
            t0 = time.perf_counter()
            try:
                router.route(a_lat, a_lon, b_lat, b_lon)
            except OutsideNetwork:  # a point > 500 m from a car road: counted, not timed
                outside += 1
                continue
            t_route.append(time.perf_counter() - t0)

    ch, bi, sp, rt = _ms(t_ch), _ms(t_bi), _ms(t_sp), _ms(t_route)
    facts = Table(title=f"{name}: {path.name}")
    facts.add_column("what")
    facts.add_column("value", justify="right")
    facts.add_row(
        "graph nodes / car edges / walk edges",
        f"{net.n_nodes:,} / {net.car.n_edges:,} / {net.walk.n_edges:,}",
    )
    facts.add_row("import, cold (s)", f"{cold_s:.2f}")
    facts.add_row("load from cache (s, best of 3)", f"{min(loads):.3f}")
    facts.add_row("CH preprocessing, car (s)", f"{ch_build_s:.1f}")
    facts.add_row("CH load + query lists (s)", f"{ch_load_s:.3f}")
    facts.add_row("CH shortcuts", f"{h.h.n_shortcuts:,}")
    facts.add_row("Dijkstra adjacency lists (s)", f"{lists_s:.3f}")
    console.print(facts)

    table = Table(title=f"{name}: {args.queries} random car node-to-node queries ({reachable} reachable)")
    table.add_column("contender")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    table.add_column("vs scipy p50", justify="right")
    table.add_row("ours: contraction hierarchy", f"{ch[0]:.2f}", f"{ch[1]:.2f}", f"{sp[0] / ch[0]:.0f}x")
    table.add_row("ours: bidirectional Dijkstra", f"{bi[0]:.2f}", f"{bi[1]:.2f}", f"{sp[0] / bi[0]:.1f}x")
    table.add_row("scipy csgraph.dijkstra (one source)", f"{sp[0]:.2f}", f"{sp[1]:.2f}", "1x")
    table.add_row(
        f"ours: route(), {len(t_route)} point pairs (snap+CH+GeoJSON)",
        f"{rt[0]:.2f}",
        f"{rt[1]:.2f}",
        f"{sp[0] / rt[0]:.0f}x",
    )
    console.print(table)
    verdict = "[green]met[/]" if rt[0] <= GOAL_P50_MS else "[red]NOT met[/]"
    console.print(
        f"costs equal to scipy on all {args.queries} queries: "
        + ("[green]yes[/]" if mismatches == 0 else f"[red]no, {mismatches} mismatches[/]")
    )
    console.print(f"goal road point-to-point p50 <= {GOAL_P50_MS:.0f} ms: {rt[0]:.2f} ms {verdict}\n")
    return {
        "nodes": net.n_nodes,
        "car_edges": net.car.n_edges,
        "import_cold_s": cold_s,
        "load_cached_s": min(loads),
        "ch_build_s": ch_build_s,
        "ch_load_s": ch_load_s,
        "ch_shortcuts": h.h.n_shortcuts,
        "queries": args.queries,
        "reachable": reachable,
        "mismatches": mismatches,
        "ch_ms": ch,
        "bidijkstra_ms": bi,
        "scipy_ms": sp,
        "route_ms": rt,
        "route_outside": outside,
    }


def bench_roads(console: Console, args: argparse.Namespace) -> dict[str, Any]:
    """Road import, preprocessing and point-to-point queries per city."""
    results: dict[str, Any] = {}
    for name, path in CITIES.items():
        if not path.exists():
            console.print(f"[yellow]{name}: {path} not found, skipped[/]")
            continue
        results[name] = _bench_city(console, name, path, args)
    return results


SECTIONS: dict[str, Callable[[Console, argparse.Namespace], dict[str, Any]]] = {"roads": bench_roads}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated: {','.join(SECTIONS)}"
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    console = Console(width=120)
    console.print(f"$ python {shlex.join(sys.argv)}")
    console.print(f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}\n")
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; known: {list(SECTIONS)}")
    results = {}
    for section in chosen:
        console.rule(section)
        results[section] = SECTIONS[section](console, args)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"argv": sys.argv, "results": results}, indent=2))
    console.print(f"figures saved to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
