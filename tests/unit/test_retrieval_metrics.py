"""recall@k, MRR and nDCG@k on hand-computed rankings."""

import math

import pytest
from refusals import message

from somafractalmemory.core.retrieval_metrics import (
    Scores,
    mean_scores,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

RANKED = ["a", "b", "c", "d"]
RELEVANT = {"b", "d", "x"}  # x is never found
IDEAL_3 = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # three relevant ids in the first three places


def test_recall_counts_relevant_ids_within_k() -> None:
    assert recall_at_k(RANKED, RELEVANT, 1) == 0.0
    assert recall_at_k(RANKED, RELEVANT, 3) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, RELEVANT, 4) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, ["a"], 1) == 1.0


def test_reciprocal_rank_is_the_first_hit_within_k() -> None:
    assert reciprocal_rank(RANKED, RELEVANT, 1) == 0.0
    assert reciprocal_rank(RANKED, RELEVANT, 2) == 0.5
    assert reciprocal_rank(RANKED, {"d"}, 4) == 0.25
    assert reciprocal_rank(RANKED, {"d"}, 3) == 0.0


def test_ndcg_discounts_by_log_rank_over_the_ideal_ranking() -> None:
    assert ndcg_at_k(RANKED, RELEVANT, 3) == pytest.approx((1 / math.log2(3)) / IDEAL_3)
    assert ndcg_at_k(RANKED, RELEVANT, 3) == pytest.approx(0.2960819109658652)
    assert ndcg_at_k(RANKED, RELEVANT, 4) == pytest.approx(0.49818925746641285)
    # the ideal holds as many relevant ids as k admits: one relevant id first is perfect at any k
    assert ndcg_at_k(RANKED, {"a"}, 4) == 1.0
    assert ndcg_at_k(RANKED, {"b"}, 2) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(RANKED, {"z"}, 4) == 0.0


def test_an_id_answered_twice_counts_once() -> None:
    assert ndcg_at_k(["b", "b"], {"b", "c"}, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert recall_at_k(["b", "b"], {"b", "c"}, 2) == 0.5


def test_mean_scores_average_each_metric_over_the_queries() -> None:
    scores = mean_scores([(RANKED, RELEVANT), (["x", "y"], {"y"})], k=2)
    assert scores == Scores(
        queries=2,
        k=2,
        recall=pytest.approx((1 / 3 + 1) / 2),
        mrr=pytest.approx((0.5 + 0.5) / 2),
        ndcg=pytest.approx(((1 / math.log2(3)) / (1 + 1 / math.log2(3)) + 1 / math.log2(3)) / 2),
    )


def test_bad_input_is_refused_with_its_message() -> None:
    assert message(recall_at_k, RANKED, RELEVANT, 0) == "k must be at least 1, got 0"
    assert message(reciprocal_rank, RANKED, [], 1) == "a query needs at least one relevant id"
    assert message(ndcg_at_k, RANKED, set(), 5) == "a query needs at least one relevant id"
    assert message(mean_scores, [], 10) == "no query to score"
    assert message(mean_scores, [(RANKED, set())], 10) == "a query needs at least one relevant id"
