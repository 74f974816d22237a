"""Clustering with cannot-link constraints (``yitu.intake.linkage.constrained_clusters``): a pair
a reviewer (or a hard rule: two valid ID numbers, two registry people) keeps apart is never put
into one cluster through a third record, and every other confident edge is honoured."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from yitu.intake.linkage import Edge, cluster_edges, components, constrained_clusters


def _cluster_of(uf, nodes: set[int]) -> dict[int, int]:
    return {n: uf.find(n) for n in nodes}


def _violates(
    members: set[int],
    cannot: set[frozenset[int]],
    exclusive: list[Mapping[int, Hashable]],
) -> bool:
    if any(pair <= members for pair in cannot):
        return True
    return any(len({m[n] for n in members if n in m}) > 1 for m in exclusive)


def test_transitive_merge_across_a_rejected_pair_is_refused() -> None:
    # A~C is the strongest edge, so C joins A; C~B would then put A and B together.
    a, b, c = 1, 2, 3
    uf, refused = constrained_clusters([(c, b, 0.995), (a, c, 0.999)], cannot_link=[(a, b)])
    assert uf.find(a) == uf.find(c)
    assert uf.find(b) != uf.find(a)
    assert refused == [(c, b, 0.995)]


def test_the_stronger_edge_wins_the_shared_record() -> None:
    a, b, c = 1, 2, 3
    uf, refused = constrained_clusters([(a, c, 0.991), (c, b, 0.999)], cannot_link=[(b, a)])
    assert uf.find(b) == uf.find(c) != uf.find(a)
    assert refused == [(a, c, 0.991)]


def test_exclusive_keys_keep_two_id_numbers_apart() -> None:
    # Records 1 and 2 hold different valid ID numbers; 3 has none and resembles both.
    ids = {1: "420682199001011234", 2: "420682199101011235"}
    uf, refused = constrained_clusters([(1, 3, 0.999), (2, 3, 0.998), (3, 4, 0.995)], (), [ids])
    assert uf.find(1) == uf.find(3) == uf.find(4)
    assert uf.find(2) != uf.find(1)
    assert refused == [(2, 3, 0.998)]


def test_constraints_on_nodes_without_edges_change_nothing() -> None:
    uf, refused = constrained_clusters([(1, 2, 0.999)], cannot_link=[(5, 6), (7, 7)])
    assert refused == []
    assert uf.find(1) == uf.find(2)
    assert uf.clusters() == {1: [1, 2]}


NODES = st.integers(min_value=0, max_value=24)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[Edge], list[tuple[int, int]], list[dict[int, int]]]:
    edges = draw(
        st.lists(
            st.tuples(NODES, NODES, st.floats(min_value=0.99, max_value=1.0)).filter(
                lambda e: e[0] != e[1]
            ),
            max_size=60,
        )
    )
    cannot = draw(st.lists(st.tuples(NODES, NODES), max_size=15))
    keys = draw(st.lists(st.dictionaries(NODES, st.integers(0, 3), max_size=8), max_size=2))
    return edges, cannot, keys


@settings(max_examples=400, deadline=None)
@given(graphs())
def test_no_cluster_holds_a_cannot_link_pair_and_other_edges_are_honoured(
    graph: tuple[list[Edge], list[tuple[int, int]], list[dict[int, int]]],
) -> None:
    edges, cannot_pairs, keys = graph
    uf, refused = constrained_clusters(edges, cannot_pairs, keys)
    cannot = {frozenset(p) for p in cannot_pairs if p[0] != p[1]}
    nodes = {n for a, b, _p in edges for n in (a, b)}
    clusters: dict[int, set[int]] = {}
    for n, root in _cluster_of(uf, nodes).items():
        clusters.setdefault(root, set()).add(n)
    # Safety: no output cluster contains a cannot-link pair or two values of one key.
    for members in clusters.values():
        assert not _violates(members, cannot, keys), members
    # Liveness: an edge is either honoured, or refused — and then joining the two final
    # clusters would break a constraint (clusters only grow, so the conflict seen when the
    # edge was refused is still there).
    refused_set = set(refused)
    for a, b, p in edges:
        if uf.find(a) == uf.find(b):
            continue
        assert (a, b, p) in refused_set
        assert _violates(clusters[uf.find(a)] | clusters[uf.find(b)], cannot, keys)
    # Refused edges are really not honoured, and every node of an edge is clustered.
    for a, b, _p in refused:
        assert uf.find(a) != uf.find(b)
    assert uf.nodes == nodes
    # Without constraints the clustering is the plain connected components.
    free, none_refused = constrained_clusters(edges)
    assert none_refused == []
    for a, b, _p in edges:
        assert free.find(a) == free.find(b)


@settings(max_examples=400, deadline=None)
@given(graphs())
def test_cluster_edges_equals_the_ordered_walk(
    graph: tuple[list[Edge], list[tuple[int, int]], list[dict[int, int]]],
) -> None:
    """The vectorised clustering (components in numpy, only conflicting components walked)
    gives the same clusters, roots and refused edges as walking every edge in order."""
    edges, cannot_pairs, keys = graph
    uf, refused = constrained_clusters(edges, cannot_pairs, keys)
    a = np.array([e[0] for e in edges], dtype=np.int64)
    b = np.array([e[1] for e in edges], dtype=np.int64)
    order = np.array(
        sorted(
            range(len(edges)),
            key=lambda i: (-edges[i][2], min(edges[i][:2]), max(edges[i][:2])),
        ),
        dtype=np.int64,
    )
    clusters, refused_at = cluster_edges(a, b, order, cannot_pairs, keys)
    assert clusters.nodes == uf.nodes
    for n in range(25):
        assert clusters.find(n) == uf.find(n), n
    assert sorted(edges[i] for i in refused_at) == sorted(refused)


def test_components_of_chains_and_stars() -> None:
    # a chain whose ids fall leftwards needs several hooking rounds; a star needs one
    a = np.array([9, 8, 7, 6, 20, 20, 20], dtype=np.int64)
    b = np.array([8, 7, 6, 5, 21, 22, 23], dtype=np.int64)
    nodes, label = components(a, b)
    assert nodes.tolist() == [5, 6, 7, 8, 9, 20, 21, 22, 23]
    assert label.tolist() == [5, 5, 5, 5, 5, 20, 20, 20, 20]
    empty_nodes, empty_label = components(np.array([], np.int64), np.array([], np.int64))
    assert len(empty_nodes) == 0 and len(empty_label) == 0
