"""chatchat.retrieval.fusion.fuse and fuse_weighted on their own: pure functions over rankings."""

import pytest

from chatchat.retrieval.fusion import fuse, fuse_weighted

# the vector ranking is sure of "a" (far ahead of the rest); the full text barely prefers "b" and "c"
VECTOR = [("a", 0.92), ("b", 0.61), ("c", 0.60), ("d", 0.40)]
FULLTEXT = [("b", 10.0), ("c", 9.9), ("a", 9.8), ("d", 1.0), ("e", 0.5)]


def ids(ranking):
    return [cid for cid, _ in ranking]


def test_rank_fusion_loses_a_single_method_win_that_score_fusion_keeps():
    assert ids(fuse(VECTOR, FULLTEXT, "rrf", 0.5))[0] == "b"  # ranks only: a's margin is invisible
    for method in ("minmax", "zscore"):
        assert ids(fuse(VECTOR, FULLTEXT, method, 0.5))[0] == "a", method


def test_minmax_scores_are_0_to_1_and_ordered():
    fused = fuse(VECTOR, FULLTEXT, "minmax", 0.5)
    values = [score for _, score in fused]
    assert values == sorted(values, reverse=True)
    assert all(0.0 <= v <= 1.0 for v in values)
    assert set(ids(fused)) == {"a", "b", "c", "d", "e"}
    assert dict(fused)["e"] == pytest.approx(0.0)  # last in the full text, absent from the vector ranking


def test_weight_zero_is_the_full_text_ranking_with_vector_only_candidates_behind():
    fused = ids(fuse([("x", 0.9), ("b", 0.5)], [("b", 3.0), ("c", 2.0)], "minmax", 0.0))
    assert fused == ["b", "c", "x"]
    assert ids(fuse([("x", 0.9), ("b", 0.5)], [("b", 3.0), ("c", 2.0)], "rrf", 1.0)) == ["x", "b", "c"]


def test_one_empty_ranking_and_ties():
    assert ids(fuse(VECTOR, [], "minmax", 0.5)) == ["a", "b", "c", "d"]
    assert ids(fuse([], FULLTEXT, "zscore", 0.5)) == ["b", "c", "a", "d", "e"]
    assert fuse([], [], "rrf") == []
    assert ids(fuse([("p", 0.5), ("q", 0.5)], [], "minmax")) == ["p", "q"]  # equal scores keep their order


def test_bad_arguments_say_what_is_allowed():
    with pytest.raises(ValueError, match="0–1"):
        fuse(VECTOR, FULLTEXT, "minmax", 1.5)
    with pytest.raises(ValueError, match="rrf, minmax, zscore"):
        fuse(VECTOR, FULLTEXT, "borda")


def test_weighted_fusion_of_three_rankings_mixes_them_and_two_give_fuse():
    bigrams = [("c", 8.0), ("e", 7.0), ("b", 1.0)]
    for method in ("rrf", "minmax", "zscore"):
        assert fuse_weighted([(VECTOR, 0.4), (FULLTEXT, 0.6)], method) == fuse(VECTOR, FULLTEXT, method, 0.4)
    fused = fuse_weighted([(VECTOR, 0.4), (FULLTEXT, 0.36), (bigrams, 0.24)])
    # c, just behind b in the full text and first by bigrams, passes b there; a (the vector's first) stays first
    assert ids(fuse(VECTOR, FULLTEXT, "minmax", 0.4))[:3] == ["a", "b", "c"]
    assert ids(fused)[:3] == ["a", "c", "b"]
    assert set(ids(fused)) == {"a", "b", "c", "d", "e"} and all(0.0 <= v <= 1.0 for _, v in fused)
    assert fuse_weighted([(VECTOR, 0.4), (FULLTEXT, 0.36), ([], 0.24)]) == fuse_weighted([(VECTOR, 0.4), (FULLTEXT, 0.36)])
    with pytest.raises(ValueError):
        fuse_weighted([(VECTOR, -0.1), (FULLTEXT, 1.1)])
