"""Weighted shortest path over a graph read one node at a time."""

import heapq
import itertools
from collections.abc import Callable, Sequence

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.models import Link


def dijkstra(
    source: Coordinate, target: Coordinate, outgoing: Callable[[Coordinate], Sequence[Link]]
) -> list[Coordinate]:
    """Least total weight path from source to target; [] when target cannot be reached.

    ``outgoing`` is asked once per settled node, so only the part of the graph the search reaches is read.
    """
    if source == target:
        return [source]
    tie = itertools.count()  # keeps the heap from comparing coordinates of equal-cost entries
    frontier: list[tuple[float, int, Coordinate]] = [(0.0, next(tie), source)]
    best: dict[Coordinate, float] = {source: 0.0}
    previous: dict[Coordinate, Coordinate] = {}
    settled: set[Coordinate] = set()
    while frontier:
        cost, _, node = heapq.heappop(frontier)
        if node in settled:
            continue
        if node == target:
            path = [node]
            while node in previous:
                node = previous[node]
                path.append(node)
            return path[::-1]
        settled.add(node)
        for link in outgoing(node):
            candidate = cost + link.weight
            if link.target not in settled and candidate < best.get(link.target, float("inf")):
                best[link.target] = candidate
                previous[link.target] = node
                heapq.heappush(frontier, (candidate, next(tie), link.target))
    return []
