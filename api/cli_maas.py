"""``beidou maas ...``: import a GTFS feed (and OSM extract), ask the transit router directly."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from core.errors import Invalid
from core.settings import Settings
from maas.gtfs import Feed, load_feed
from maas.raptor import Router

maas_app = typer.Typer(help="Trip planning: network import and transit queries", no_args_is_help=True)
out = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.fields[step]}"),
        TimeElapsedColumn(),
        console=out,
    )


def cache_dir() -> Path:
    """Where imported networks live: beside the embedded database (``./var`` by default)."""
    return Settings().maas_dir


def load_gtfs(path: Path, *, show: bool = True) -> Feed:
    if not show:
        return load_feed(path, cache_dir())
    with _progress() as bar:
        task = bar.add_task(f"GTFS {path.name}", total=1.0, step="")
        feed = load_feed(path, cache_dir(), lambda what, frac: bar.update(task, completed=frac, step=what))
        bar.update(task, completed=1.0, step=f"{feed.n_stops} stops, {feed.n_trips} trips")
    return feed


@maas_app.command("import")
def import_network(
    gtfs: Annotated[
        list[Path] | None, typer.Option(exists=True, help="a GTFS feed (.zip or directory); repeatable")
    ] = None,
    osm: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="an OSM extract (.osm.pbf)")
    ] = None,
) -> None:
    """Read the feed(s) and extract into NumPy structures cached under BEIDOU_MAAS_DIR, so the
    API (and a restart) loads them in seconds. With both, the (last) feed and the extract become
    the network the API serves."""
    if not gtfs and osm is None:
        raise typer.BadParameter("give --gtfs and/or --osm")
    feeds = list(gtfs or [])
    if feeds and osm is not None:
        from maas.network import import_network

        *others, served = feeds
        for path in others:
            load_gtfs(path)
        with _progress() as bar:
            task = bar.add_task(f"{served.name} + {osm.name}", total=1.0, step="")
            net = import_network(
                cache_dir(), served, osm, lambda what, frac: bar.update(task, completed=frac, step=what)
            )
            bar.update(task, completed=1.0, step="ready")
        out.print(
            f"serving {served.name}: {net.feed.n_stops} stops, {net.feed.n_trips} trips; "
            f"{osm.name}: {net.roads.n_nodes} nodes; {net.footpaths} footpaths between stops"
        )
    else:
        for path in feeds:
            load_gtfs(path)
        if osm is not None:
            from maas.osm import import_osm

            with _progress() as bar:
                task = bar.add_task(f"OSM {osm.name}", total=1.0, step="")
                import_osm(
                    osm, cache_dir(), progress=lambda what, frac: bar.update(task, completed=frac, step=what)
                )
                bar.update(task, completed=1.0, step="done")
    out.print(f"imported into {cache_dir()}")


@maas_app.command("earliest")
def earliest(
    gtfs: Annotated[Path, typer.Option(exists=True, help="the GTFS feed (.zip or directory)")],
    from_stop: Annotated[str, typer.Option(help="stop_id (a station means any of its platforms)")],
    to_stop: Annotated[str, typer.Option(help="stop_id (a station means any of its platforms)")],
    depart: Annotated[str, typer.Option(help="YYYY-MM-DDTHH:MM:SS in the feed's local time")],
    max_transfers: Annotated[int, typer.Option(min=0, help="at most this many transfers")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Earliest arrival on the timetable alone (plain GTFS semantics, no street network); among
    journeys arriving then, the fewest transfers. ``pareto`` lists every (arrival, transfers)
    trade-off."""
    try:
        when = dt.datetime.fromisoformat(depart)
    except ValueError as exc:
        raise typer.BadParameter("expected YYYY-MM-DDTHH:MM:SS", param_hint="--depart") from exc
    if when.tzinfo is not None:
        raise typer.BadParameter("give the feed's local time without an offset", param_hint="--depart")
    feed = load_gtfs(gtfs, show=not as_json)
    try:
        journeys = Router(feed).earliest_by_id(from_stop, to_stop, when, max_transfers=max_transfers)
    except Invalid as exc:
        raise typer.BadParameter(exc.detail) from exc
    answer: dict[str, Any] = {"arrival": None}
    if journeys:
        answer = journeys[-1].as_json(feed)
        answer["pareto"] = [{"arrival": j.arrival.isoformat(), "transfers": j.transfers} for j in journeys]
    if as_json:
        print(json.dumps(answer, ensure_ascii=False))
        return
    if not journeys:
        print("no journey")
        return
    for j in journeys:
        print(f"arrive {j.arrival.isoformat()} with {j.transfers} transfer(s)")
        for leg in j.as_json(feed)["legs"]:
            what = f"{leg['mode']} {leg.get('route', '')}".strip()
            print(f"  {leg['departure']} {leg['from_stop']} -> {leg['arrival']} {leg['to_stop']}  {what}")
