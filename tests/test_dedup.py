"""qa.indexing.dedup.components (scipy's connected components) gives exactly what the union-find it replaced gave:
the same groups, the same group id (the smallest member), in the same order."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.indexing.dedup import components


def union_find(ids: Sequence[str], pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The union-find group_articles used before (path halving, the smaller root wins), kept as the reference."""
    parent = {a: a for a in ids}

    def root(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for a in ids:
        groups.setdefault(root(a), []).append(a)
    return {a: min(members) for members in groups.values() if len(members) > 1 for a in members}


GRAPHS = {
    "empty": ([], []),
    "singletons": (["c", "a", "b"], []),
    "one pair": (["x", "b", "a"], [("a", "b")]),
    "a chain, joined from its far end": (["e", "d", "c", "b", "a"], [("e", "d"), ("d", "c"), ("c", "b"), ("b", "a")]),
    "a chain, joined out of order": (["a", "b", "c", "d", "e"], [("d", "e"), ("a", "b"), ("c", "d"), ("b", "c")]),
    "two groups and singletons": (["z", "m", "q", "b", "y", "a", "k"], [("y", "z"), ("b", "q"), ("a", "q")]),
    "both directions, as LSH reports them": (["b", "a", "c"], [("a", "b"), ("b", "a"), ("c", "b"), ("b", "c")]),
    "a star": (["hub", "s3", "s1", "s2", "lone"], [("s1", "hub"), ("hub", "s2"), ("s3", "hub")]),
}


@pytest.mark.parametrize("name", GRAPHS)
def test_same_groups_ids_and_order_as_the_union_find(name: str) -> None:
    ids, pairs = GRAPHS[name]
    assert list(components(ids, pairs).items()) == list(union_find(ids, pairs).items())


def test_a_chain_is_one_group_named_by_its_smallest_member() -> None:
    ids, pairs = GRAPHS["a chain, joined from its far end"]
    assert list(components(ids, pairs).items()) == [("e", "a"), ("d", "a"), ("c", "a"), ("b", "a"), ("a", "a")]
    assert components(*GRAPHS["singletons"]) == {}


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    ids = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=3), unique=True, max_size=12))
    pairs = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=15)) if ids else []
    return ids, pairs


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_random_graphs_match_the_union_find(graph: tuple[list[str], list[tuple[str, str]]]) -> None:
    ids, pairs = graph
    assert list(components(ids, pairs).items()) == list(union_find(ids, pairs).items())
