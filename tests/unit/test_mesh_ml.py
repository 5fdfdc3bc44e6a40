"""mesh_ml: the recommendation models of `recommendations.next-title`. Pure and fast: a synthetic viewing
history with real structure (taste groups, genres, a popularity skew), no servers."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import warnings
import zipfile
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from mesh_ml import (
    Evaluation,
    ImplicitAls,
    Interactions,
    ModelCard,
    NotEnoughData,
    PopularityBaseline,
    TrainingInput,
    coverage,
    evaluate,
    precision_at_k,
    quality_gate,
    recall_at_k,
    time_split,
)

START = date(2025, 3, 1)
GROUPS = 4
TITLES_PER_GENRE = 15


def synthetic(seed: int = 7, customers: int = 200, days: int = 30) -> Interactions:
    """200 customers in 4 taste groups, 60 titles in 4 genres, 30 days. Each day a customer watches
    Poisson(0.5) titles: 85% from their group's genre, 15% from any genre; within a genre a few titles are
    much more popular than the rest (Zipf-like), so "most watched" is a real, but impersonal, signal."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, TITLES_PER_GENRE + 1) ** 0.8
    popularity /= popularity.sum()
    customer_ids: list[int] = []
    title_ids: list[int] = []
    weights: list[float] = []
    days_: list[date] = []
    for c in range(customers):
        group = c % GROUPS
        for day in range(days):
            for _ in range(rng.poisson(0.5)):
                genre = group if rng.random() < 0.85 else int(rng.integers(GROUPS))
                title = genre * TITLES_PER_GENRE + int(rng.choice(TITLES_PER_GENRE, p=popularity))
                customer_ids.append(1000 + c)
                title_ids.append(500 + title)
                weights.append(float(rng.integers(60, 3600)))  # watch seconds
                days_.append(START + timedelta(days=day))
    return Interactions(customer_ids, title_ids, weights, days_)


def als() -> ImplicitAls:
    return ImplicitAls(factors=16, regularization=1.0, iterations=15, alpha=2.0, random_state=7)


@pytest.fixture(scope="module")
def data() -> Interactions:
    return synthetic()


@pytest.fixture(scope="module")
def evaluation(data: Interactions) -> Evaluation:
    return evaluate(als, PopularityBaseline, data, k=10, test_days=7)


def d(day: int) -> date:
    return START + timedelta(days=day)


# --- interactions -------------------------------------------------------------------------------


def test_interactions_map_ids_to_dense_indices_and_back() -> None:
    it = Interactions([30, 10, 30, 30], [7, 5, 7, 9], [10.0, 20.0, 5.0, 60.0], [d(0), d(0), d(1), d(1)])
    assert it.customers.tolist() == [10, 30]
    assert it.titles.tolist() == [5, 7, 9]
    assert it.customers[it.customer_index].tolist() == [30, 10, 30, 30]
    assert it.titles[it.title_index].tolist() == [7, 5, 7, 9]
    # the matrix sums a pair's weights over days
    assert it.matrix().toarray().tolist() == [[20.0, 0.0, 0.0], [0.0, 15.0, 60.0]]
    c = it.confidence(alpha=2.0, scale=60.0).toarray()
    assert c.dtype == np.float32
    assert c[1, 2] == pytest.approx(1 + 2.0 * math.log1p(1.0))
    assert c[0, 0] == pytest.approx(1 + 2.0 * math.log1p(20 / 60))
    assert c[0, 1] == 0.0  # unwatched stays absent
    assert (it.first_day, it.last_day, it.distinct_days) == (d(0), d(1), 2)
    assert it.seen() == {30: {7, 9}, 10: {5}}


def test_interactions_refuse_bad_rows() -> None:
    with pytest.raises(ValueError, match="same length"):
        Interactions([1, 2], [1], [1.0, 1.0], [d(0), d(0)])
    with pytest.raises(ValueError, match="positive"):
        Interactions([1], [1], [0.0], [d(0)])
    with pytest.raises(ValueError, match="positive"):
        Interactions([1], [1], [float("nan")], [d(0)])


# --- metrics ------------------------------------------------------------------------------------


def test_metrics_on_a_hand_made_example() -> None:
    recommended = {1: [10, 11, 12], 2: [20, 21], 3: [30]}
    # customer 3 has nothing relevant: left out of the average; customer 4 got no list: zero hits.
    relevant: dict[int, set[int]] = {1: {11, 99}, 2: {20, 21, 22, 23}, 3: set(), 4: {40}}
    # k=2: customer 1 hits 11 (p 1/2, r 1/2); customer 2 hits 20, 21 (p 1, r 2/4); customer 4 nothing
    assert precision_at_k(recommended, relevant, 2) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert recall_at_k(recommended, relevant, 2) == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    # k=3: customer 2 has only two titles; the empty slot is a miss (2/3, not 2/2)
    assert precision_at_k(recommended, relevant, 3) == pytest.approx((1 / 3 + 2 / 3 + 0.0) / 3)
    assert recall_at_k(recommended, relevant, 3) == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    assert precision_at_k({1: [5]}, {1: {5}}, 1) == 1.0
    assert coverage(recommended, [10, 11, 12, 20, 21, 30, 40, 50], 2) == pytest.approx(5 / 8)
    assert coverage(recommended, [10, 11, 12, 20, 21, 30, 40, 50], 3) == pytest.approx(6 / 8)


def test_metrics_refuse_undefined_cases() -> None:
    with pytest.raises(ValueError, match="k must be"):
        precision_at_k({1: [1]}, {1: {1}}, 0)
    with pytest.raises(ValueError, match="no customer has a relevant title"):
        recall_at_k({1: [1]}, {1: set()}, 5)
    with pytest.raises(ValueError, match="catalogue is empty"):
        coverage({1: [1]}, [], 5)


# --- holdout ------------------------------------------------------------------------------------


def test_split_by_time_on_a_hand_made_example() -> None:
    rows = [
        (1, 100, d(0)),
        (2, 200, d(0)),
        (2, 100, d(1)),
        (1, 100, d(2)),  # re-watch: not relevant
        (1, 200, d(2)),  # new to customer 1: relevant
        (2, 300, d(2)),  # title unknown to train: dropped from test
        (3, 100, d(2)),  # customer unknown to train: dropped from test
    ]
    it = Interactions([r[0] for r in rows], [r[1] for r in rows], [60.0] * len(rows), [r[2] for r in rows])
    split = time_split(it, test_days=1)
    assert split.cutoff == d(2)
    assert len(split.train) == 3
    assert sorted(zip(split.test.customer_ids.tolist(), split.test.title_ids.tolist(), strict=True)) == [
        (1, 100),
        (1, 200),
    ]
    assert split.relevant == {1: {200}}
    assert split.test_customers == 1


def test_split_never_leaks_test_into_train(data: Interactions) -> None:
    split = time_split(data, test_days=7)
    assert split.cutoff == data.last_day - timedelta(days=6)
    cutoff = np.datetime64(split.cutoff, "D")
    assert (split.train.days < cutoff).all()
    assert (split.test.days >= cutoff).all()
    # every row before the cutoff is in train, none after it
    assert len(split.train) == int((data.days < cutoff).sum())
    assert len(split.test) <= int((data.days >= cutoff).sum())
    # test customers and titles are known to train
    assert set(split.test.customers.tolist()) <= set(split.train.customers.tolist())
    assert set(split.test.titles.tolist()) <= set(split.train.titles.tolist())
    # relevance: watched in the test window, never in train
    seen, watched_in_test = split.train.seen(), split.test.seen()
    assert split.relevant
    for customer, titles in split.relevant.items():
        assert titles
        assert not titles & seen[customer]
        assert titles <= watched_in_test[customer]


def test_not_enough_data_says_what_is_missing() -> None:
    def rows(*r: tuple[int, int, date]) -> Interactions:
        return Interactions([x[0] for x in r], [x[1] for x in r], [60.0] * len(r), [x[2] for x in r])

    with pytest.raises(NotEnoughData, match="no interactions at all"):
        time_split(rows(), test_days=1)
    with pytest.raises(NotEnoughData, match="at least 2 distinct days"):
        time_split(rows((1, 1, d(0)), (2, 2, d(0))), test_days=1)
    with pytest.raises(NotEnoughData, match=r"leaves no training day.*use a shorter test window"):
        time_split(rows((1, 1, d(0)), (1, 2, d(3))), test_days=4)
    with pytest.raises(NotEnoughData, match="no test customers"):
        time_split(rows((1, 1, d(0)), (2, 1, d(1))), test_days=1)  # the only test customer is new
    with pytest.raises(NotEnoughData, match="re-watches"):
        time_split(rows((1, 1, d(0)), (1, 1, d(1))), test_days=1)
    with pytest.raises(ValueError, match="test_days must be at least 1") as refused:
        time_split(rows((1, 1, d(0)), (1, 2, d(1))), test_days=0)
    assert not isinstance(refused.value, NotEnoughData)  # a caller's mistake, not a data problem
    assert issubclass(NotEnoughData, ValueError)


# --- models -------------------------------------------------------------------------------------


def test_als_beats_popularity_on_the_time_based_holdout(evaluation: Evaluation) -> None:
    e = evaluation
    assert e.k == 10 and e.test_days == 7
    assert e.cutoff == START + timedelta(days=23)
    assert e.train_customers == 200 and e.train_titles == 60
    assert e.test_customers > 100 and e.test_interactions > e.test_customers
    assert e.model_precision > 1.5 * e.baseline_precision > 0
    assert e.model_recall > 1.5 * e.baseline_recall > 0
    assert e.lift is not None and e.lift > 1.5
    assert e.model_coverage > e.baseline_coverage
    gate = quality_gate(e, min_lift=1.2)
    assert gate.passed and all(gate.checks.values())
    assert not quality_gate(e, min_lift=100.0).passed


def test_lift_is_none_when_the_baseline_scores_zero(evaluation: Evaluation) -> None:
    zero = dataclasses.replace(evaluation, baseline_precision=0.0, baseline_recall=0.0)
    assert zero.lift is None and zero.recall_lift is None
    assert quality_gate(zero).passed  # any model above 0 beats a baseline at 0


def test_recommendations_exclude_seen_titles(data: Interactions) -> None:
    seen = data.seen()
    customers = data.customers.tolist()
    for model in (als().fit(data), PopularityBaseline().fit(data)):
        recs = model.recommend(customers, 10)
        assert list(recs) == customers
        for customer, ranked in recs.items():
            titles = [title for title, _ in ranked]
            assert len(titles) == 10 == len(set(titles))
            assert not set(titles) & seen[customer]
            scores = [score for _, score in ranked]
            assert scores == sorted(scores, reverse=True)
    # without exclusion ALS puts titles the customer loves, and has watched, on top
    including = als().fit(data).recommend(customers, 10, exclude_seen=False)
    assert any(ranked[0][0] in seen[c] for c, ranked in including.items())


def test_recommend_never_pads_with_titles_that_do_not_exist() -> None:
    # customer 1 watched 3 of the 4 titles: one title is left, whatever n asks for
    it = Interactions([1, 1, 1, 2, 2, 3], [10, 11, 12, 10, 13, 11], [60.0] * 6, [d(0)] * 6)
    model = ImplicitAls(factors=2, iterations=3).fit(it)
    recs = model.recommend([1, 2, 99], 10)
    assert [title for title, _ in recs[1]] == [13]
    assert {title for title, _ in recs[2]} == {11, 12}
    assert sorted(title for title, _ in recs[99]) == [10, 11, 12, 13]  # unknown: the whole catalogue


def test_unknown_customers_get_the_popularity_fallback(data: Interactions) -> None:
    model = als().fit(data)
    baseline = PopularityBaseline().fit(data)
    unknown = [1, 2, 999_999]
    assert not any(model.knows(c) for c in unknown)
    assert all(model.knows(c) for c in data.customers.tolist())
    assert model.recommend(unknown, 10) == baseline.recommend(unknown, 10)
    first = baseline.recommend([1], 10)[1]
    totals = {t: 0.0 for t in data.titles.tolist()}
    for title, weight in zip(data.title_ids.tolist(), data.weights.tolist(), strict=True):
        totals[title] += weight
    assert [title for title, _ in first] == sorted(totals, key=lambda t: (-totals[t], t))[:10]
    # known customers are personalised, not handed the popular list
    known = model.recommend(data.customers.tolist(), 10)
    popular = baseline.recommend(data.customers.tolist(), 10)
    assert sum(known[c] != popular[c] for c in known) > 150


def test_same_seed_same_model(data: Interactions) -> None:
    a, b = als().fit(data), als().fit(data)
    assert np.array_equal(a.user_factors, b.user_factors)
    assert np.array_equal(a.item_factors, b.item_factors)
    customers = data.customers.tolist()
    assert a.recommend(customers, 10) == b.recommend(customers, 10)
    assert a.to_bytes() == b.to_bytes()
    other = ImplicitAls(factors=16, regularization=1.0, iterations=15, alpha=2.0, random_state=8).fit(data)
    assert not np.array_equal(a.item_factors, other.item_factors)


def test_a_customers_list_does_not_depend_on_the_batch(data: Interactions) -> None:
    model = als().fit(data)
    together = model.recommend(data.customers.tolist(), 10)
    for customer in data.customers.tolist()[:20]:
        assert model.recommend([customer], 10)[customer] == together[customer]


def test_artifact_round_trip_recommends_identically(data: Interactions) -> None:
    model = als().fit(data)
    artifact = model.to_bytes()
    restored = ImplicitAls.from_bytes(artifact)
    assert restored.hyper_parameters == model.hyper_parameters
    customers = [*data.customers.tolist(), 1, 2]
    for exclude_seen in (True, False):
        assert restored.recommend(customers, 10, exclude_seen) == model.recommend(customers, 10, exclude_seen)
    assert restored.to_bytes() == artifact
    # a plain .npz with a readable header
    with np.load(io.BytesIO(artifact)) as npz:
        assert {"user_factors", "item_factors", "customers", "titles"} <= set(npz.files)
        assert npz["user_factors"].shape == (200, 16)
    header = json.loads(zipfile.ZipFile(io.BytesIO(artifact)).read("header.json"))
    assert header["format"] == "mesh_ml.ImplicitAls"
    assert header["hyper_parameters"]["factors"] == 16

    baseline = PopularityBaseline().fit(data)
    assert PopularityBaseline.from_bytes(baseline.to_bytes()).recommend(customers, 10) == baseline.recommend(
        customers, 10
    )
    with pytest.raises(ValueError, match=re.escape("not a 'mesh_ml.ImplicitAls'")):
        ImplicitAls.from_bytes(baseline.to_bytes())
    with pytest.raises(ValueError, match=re.escape("not a mesh_ml.ImplicitAls artifact")):
        ImplicitAls.from_bytes(b"garbage")


def test_training_is_quiet_and_refuses_misuse(data: Interactions, capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # implicit's BLAS thread-pool warning would fail here
        als().fit(data).recommend([1000], 5)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""  # no progress bar
    with pytest.raises(RuntimeError, match="not fitted"):
        ImplicitAls().recommend([1], 5)
    with pytest.raises(RuntimeError, match="not fitted"):
        PopularityBaseline().to_bytes()
    with pytest.raises(ValueError, match="n must be at least 1"):
        PopularityBaseline().fit(data).recommend([1], 0)
    with pytest.raises(ValueError, match="no interactions"):
        ImplicitAls().fit(Interactions([], [], [], []))


# --- model card ---------------------------------------------------------------------------------


def test_model_card_is_json_safe_and_readable(data: Interactions, evaluation: Evaluation) -> None:
    model = als().fit(data)
    card = ModelCard(
        model_name="recommendations.next-title",
        version="2025.03.30-1",
        trained_at=datetime(2025, 3, 31, 2, 0, tzinfo=UTC),
        algorithm=model.algorithm,
        hyper_parameters=model.hyper_parameters,
        training_data={
            "engagement.viewing.daily_watch_time": TrainingInput(
                snapshot_id=4_412_998_017_315_128_731, rows=len(data), first_day=data.first_day, last_day=data.last_day
            )
        },
        evaluation=evaluation,
        intended_use="Rank titles a customer has not watched yet on the home screen.",
        limitations=["Cold start: new customers get the popularity list.", "Titles new this week cannot be ranked."],
        quality_gate=quality_gate(evaluation, min_lift=1.2),
        owner="recommendations team",
        factors=["taste group", "genre"],
    )
    as_dict = card.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["training_data"]["engagement.viewing.daily_watch_time"]["first_day"] == "2025-03-01"
    assert as_dict["evaluation"]["lift"] == pytest.approx(evaluation.lift)
    assert as_dict["quality_gate"]["passed"] is True

    md = card.to_markdown()
    for section in (
        "## Model details",
        "## Intended use",
        "## Factors",
        "## Metrics",
        "## Evaluation data",
        "## Training data",
        "## Caveats and recommendations",
    ):
        assert section in md
    assert f"{evaluation.model_precision:.4f}" in md
    assert f"{evaluation.baseline_recall:.4f}" in md
    assert "precision@10" in md and "recall@10" in md
    assert "4412998017315128731" in md
    assert "Cold start" in md
