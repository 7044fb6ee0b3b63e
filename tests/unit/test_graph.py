from somafractalmemory.core.graph import dijkstra
from somafractalmemory.core.models import Link

A, B, C, D = (0.0,), (1.0,), (2.0,), (3.0,)


def edges(
    *triples: tuple[tuple[float, ...], tuple[float, ...], float],
) -> dict[tuple[float, ...], list[Link]]:
    graph: dict[tuple[float, ...], list[Link]] = {}
    for source, target, weight in triples:
        graph.setdefault(source, []).append(Link("ns", source, target, "related", weight, 0.0))
    return graph


def test_takes_the_lightest_path_not_the_shortest_hop_count() -> None:
    graph = edges((A, D, 10.0), (A, B, 1.0), (B, C, 1.0), (C, D, 1.0))
    assert dijkstra(A, D, lambda node: graph.get(node, [])) == [A, B, C, D]


def test_links_are_directed_and_unreachable_gives_empty() -> None:
    graph = edges((A, B, 1.0))
    assert dijkstra(B, A, lambda node: graph.get(node, [])) == []


def test_same_node_is_a_path_of_one_and_cycles_end() -> None:
    graph = edges((A, B, 1.0), (B, A, 1.0))
    assert dijkstra(A, A, lambda node: graph.get(node, [])) == [A]
    assert dijkstra(A, C, lambda node: graph.get(node, [])) == []


def test_reads_each_node_once() -> None:
    graph = edges((A, B, 1.0), (A, C, 1.0), (B, D, 1.0), (C, D, 1.0))
    asked: list[tuple[float, ...]] = []

    def outgoing(node: tuple[float, ...]) -> list[Link]:
        asked.append(node)
        return graph.get(node, [])

    assert dijkstra(A, D, outgoing)[-1] == D
    assert len(asked) == len(set(asked))
