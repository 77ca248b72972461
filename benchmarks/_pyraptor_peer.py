"""pyraptor's side of benchmarks/maas.py, run by the interpreter of a venv of its own.

pyraptor 1.3 pins pandas < 2, which does not load beside NumPy 2, so benchmarks/maas.py makes a
separate venv for it (``var/bench/pyraptor-venv``) and runs this script there with a JSON job
on stdin: ``{"gtfs": dir, "trip_ids": [...], "queries": [[origin, destination, dep_secs], ...],
"rounds": k}``, stations by name (pyraptor routes between stations). Its own GTFS reader is
written for the Dutch NS feed (it wants calendar_dates-only services, trip_short_name,
platform_code), so the timetable is built with its ``gtfs_to_pyraptor_timetable`` from the same
files, restricted to the trips that run on the date (computed by our side from calendar.txt and
calendar_dates.txt). Its ``query_raptor`` reads the last round's bag only, which is empty when
the search converges early (``run`` breaks out of the loop), so the best label over all rounds is
read instead: the algorithm is theirs, the harness fixed. Prints one JSON line: build time and, per query, the arrival (seconds, or
null) and the query time.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pandas as pd
from loguru import logger
from pyraptor.gtfs.timetable import GtfsTimetable, gtfs_to_pyraptor_timetable
from pyraptor.model.raptor import RaptorAlgorithm, best_stop_at_target_station
from pyraptor.util import str2sec


def main() -> None:
    logger.remove()  # its per-round debug logging would dominate the timings
    job = json.load(sys.stdin)
    folder = job["gtfs"]
    t0 = time.perf_counter()
    trips = pd.read_csv(os.path.join(folder, "trips.txt"), dtype=str)
    trips = trips[trips.trip_id.isin(set(job["trip_ids"]))].copy()
    for col in ("trip_short_name", "trip_long_name"):
        if col not in trips:
            trips[col] = None
    trips["trip_short_name"] = pd.to_numeric(trips["trip_short_name"], errors="coerce").astype("Int64")
    stop_times = pd.read_csv(os.path.join(folder, "stop_times.txt"), dtype={"stop_id": str, "trip_id": str})
    stop_times = stop_times[stop_times.trip_id.isin(trips.trip_id.values)]
    stop_times = stop_times[["trip_id", "stop_sequence", "stop_id", "arrival_time", "departure_time"]].copy()
    stop_times["arrival_time"] = stop_times["arrival_time"].apply(str2sec)
    stop_times["departure_time"] = stop_times["departure_time"].apply(str2sec)
    stops = pd.read_csv(os.path.join(folder, "stops.txt"), dtype=str)
    stops = stops[stops.stop_id.isin(stop_times.stop_id.unique())].copy()
    if "platform_code" not in stops:
        stops["platform_code"] = None
    stops = stops[["stop_id", "stop_name", "parent_station", "platform_code"]]
    gtfs = GtfsTimetable()
    gtfs.trips, gtfs.stop_times, gtfs.stops = trips, stop_times, stops
    timetable = gtfs_to_pyraptor_timetable(gtfs)
    build_s = time.perf_counter() - t0

    results = []
    rounds = int(job["rounds"])
    for origin, destination, dep_secs in job["queries"]:
        start = time.perf_counter()
        from_stops = timetable.stations.get(origin).stops
        to_stops = timetable.stations.get_stops(destination)
        bags = RaptorAlgorithm(timetable).run(from_stops, dep_secs, rounds)
        # its query_raptor reads bags[rounds], which stays empty when the search converges
        # before the last round (run() breaks out early): read the best label of any round
        arrival = None
        for k in range(rounds + 1):
            stop = best_stop_at_target_station(to_stops, bags[k])
            if stop != 0 and (arrival is None or bags[k][stop].earliest_arrival_time < arrival):
                arrival = bags[k][stop].earliest_arrival_time
        elapsed = time.perf_counter() - start
        results.append({"arrival": arrival, "seconds": elapsed})
    print(json.dumps({"build_s": build_s, "results": results}))


if __name__ == "__main__":
    main()
