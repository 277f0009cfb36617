"""Neural recommenders (PyTorch): determinism, loss, architecture identities, checkpoints,
cold start, warm starts and a seeded quality check (fast: the contract suite's small world).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from recarena.contract import Surface
from recarena.experiment.checks import CheckContext, check_context
from recarena.models.neural import (
    NeuralConfig,
    Pairs,
    _batch_loss,
    build_model,
    torch_threads,
    train_model,
)
from recarena.policies import registry

NEURAL = ["mf_dot", "dssm", "dssm_two_tower", "neumf"]
SMALL: dict[str, Any] = {"factors": 8, "hidden": 16, "epochs": 3}


@pytest.fixture(scope="module")
def ctx() -> CheckContext:
    return check_context(Surface.SLATE)


def _fitted(ctx: CheckContext, config: dict[str, Any], seed: int = 5) -> Any:
    policy = registry.make(config)
    policy.setup(ctx.spec, np.random.default_rng(seed))
    policy.fit(ctx.history)
    return policy


def _scores(ctx: CheckContext, policy: Any) -> np.ndarray:
    request = ctx.requests[0]
    items = np.flatnonzero(request.available_items)
    return np.asarray(policy.score_items(request.users, request.features, items))


@pytest.mark.parametrize("kind", NEURAL)
def test_same_seed_gives_the_same_scores_bit_for_bit(ctx: CheckContext, kind: str) -> None:
    config = {"kind": kind, **SMALL}
    a, b = _scores(ctx, _fitted(ctx, config)), _scores(ctx, _fitted(ctx, config))
    assert np.isfinite(a).any()
    np.testing.assert_array_equal(a, b)
    c = _scores(ctx, _fitted(ctx, config, seed=6))
    assert not np.array_equal(a, c), "another seed must train another model"


def test_building_a_model_leaves_torch_global_generator_alone() -> None:
    before = torch.random.get_rng_state()
    cfg = NeuralConfig("neumf", factors=4, hidden=8)
    build_model(cfg, 10, 12, torch.Generator().manual_seed(1))
    assert torch.equal(before, torch.random.get_rng_state())


def test_torch_threads_sets_and_restores() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_sampled_softmax_loss_matches_reference() -> None:
    cfg = NeuralConfig("mf_dot", factors=3)
    module = build_model(cfg, 4, 6, torch.Generator().manual_seed(3))
    with torch.no_grad():  # item biases (the item table's last column) start at zero
        module.item.weight[:, -1] = torch.tensor([0.3, -0.2, 0.1, 0.0, 0.5, -0.4])
    users, items = torch.tensor([0, 1, 2]), torch.tensor([1, 2, 3])
    negatives = torch.tensor([0, 2, 5])  # item 2 is user 1's positive: masked for that row
    loss = float(_batch_loss(module, users, items, negatives, None, None, False).detach())
    p = module.user.weight.detach().numpy().astype(np.float64)
    q = module.item.weight.detach().numpy()[:, :-1].astype(np.float64)
    bias = module.item.weight.detach().numpy()[:, -1].astype(np.float64)
    expected = 0.0
    for u, i in zip(users.tolist(), items.tolist(), strict=True):
        pos = p[u] @ q[i] + bias[i]
        neg = [p[u] @ q[j] + bias[j] for j in negatives.tolist() if j != i]
        expected -= pos - np.log(np.exp(pos) + np.exp(neg).sum())
    assert loss == pytest.approx(expected / 3, rel=1e-5)


def test_neumf_all_pairs_scores_equal_the_per_pair_network() -> None:
    cfg = NeuralConfig("neumf", factors=4, hidden=8)
    module = build_model(cfg, 5, 7, torch.Generator().manual_seed(2))
    users, items = torch.arange(5), torch.arange(7)
    with torch.no_grad():
        u, v = module.encode_users(users, None), module.encode_items(items)
        cross = module.cross(u, v)
        for b in range(5):
            pair = module.matched(u[b].expand(7, -1), v)
            torch.testing.assert_close(cross[b], pair, rtol=1e-5, atol=1e-6)


def test_early_stopping_keeps_the_best_epoch() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    users = rng.integers(0, 200, n)
    items = (users % 20) * 3 + rng.integers(0, 3, n)  # each user likes 3 of 60 items
    pairs = Pairs(users.astype(np.int64), items.astype(np.int64), np.sort(rng.random(n)))
    cfg = NeuralConfig("mf_dot", factors=8, epochs=40, patience=2, learning_rate=0.05)
    module = build_model(cfg, 200, 60, torch.Generator().manual_seed(0))
    report = train_model(
        module, pairs, cfg, torch.Generator().manual_seed(1), np.arange(60, dtype=np.int64)
    )
    assert report.losses[-1] < report.losses[0]
    assert report.best_epoch >= 1 and report.epochs <= report.best_epoch + 1 + cfg.patience
    assert report.epochs < cfg.epochs, "the id model overfits long before 40 epochs"
    assert report.examples_per_second > 0


def test_checkpoint_round_trip_restores_scores(ctx: CheckContext, tmp_path: Path) -> None:
    newcomer = np.array([10_000], dtype=np.int64)  # no interactions in either policy
    for kind in ("dssm_two_tower", "neumf"):
        config = {"kind": kind, **SMALL}
        trained = _fitted(ctx, config)
        path = tmp_path / f"{kind}.pt"
        trained.save_checkpoint(path)
        fresh = registry.make(config)
        fresh.setup(ctx.spec, np.random.default_rng(99))
        fresh.load_checkpoint(path)
        if kind == "neumf":  # id model: scores of every fitted user
            np.testing.assert_array_equal(_scores(ctx, fresh), _scores(ctx, trained))
        else:  # the towers read the policy's own interactions: compare a newcomer's scores
            items = np.arange(ctx.spec.n_items)
            features = ctx.requests[0].features[:1]
            np.testing.assert_array_equal(
                fresh.score_items(newcomer, features, items),
                trained.score_items(newcomer, features, items),
            )
        loaded = torch.load(path, weights_only=True)  # plain tensors: safe to load
        assert set(loaded) == {"state", "meta"}


def test_two_tower_serves_new_users_and_new_items(ctx: CheckContext) -> None:
    policy = _fitted(ctx, {"kind": "dssm_two_tower", **SMALL})
    new_items = np.flatnonzero(ctx.spec.item_release_time > ctx.history.t - 1e-9)
    unseen_user = np.array([10_000], dtype=np.int64)
    features = ctx.requests[0].features[:1]
    scores = policy.score_items(unseen_user, features, np.arange(ctx.spec.n_items))
    assert np.isfinite(scores).all(), "towers score every user and every item"
    ids = _fitted(ctx, {"kind": "mf_dot", **SMALL})
    assert not np.isfinite(ids.score_items(unseen_user, features, new_items)).any()


def test_warm_refit_continues_from_previous_weights(ctx: CheckContext) -> None:
    from recarena.policies.recommenders.base import truncate_history

    config = {"kind": "mf_dot", **SMALL, "refit": "warm", "warm_iterations": 1}
    warm = registry.make(config)
    warm.setup(ctx.spec, np.random.default_rng(5))
    warm.fit(truncate_history(ctx.history, 3.0))
    first = warm.module_.item.weight.detach().clone()
    warm.fit(ctx.history)
    assert warm.report_.epochs == 1 and warm.module_.item.weight.shape == first.shape
    full = _fitted(ctx, {**config, "refit": "full"})
    assert not np.array_equal(_scores(ctx, warm), _scores(ctx, full))


def test_warm_refit_touches_only_the_rows_of_users_with_new_data(ctx: CheckContext) -> None:
    from recarena.policies.recommenders.base import interaction_frame, truncate_history

    config = {"kind": "mf_dot", **SMALL, "refit": "warm", "warm_iterations": 2, "warm_replay": 0}
    policy = registry.make(config)
    policy.setup(ctx.spec, np.random.default_rng(5))
    policy.fit(truncate_history(ctx.history, 2.0))
    before = policy.module_.user.weight.detach().clone().numpy()
    vectors = policy.user_vectors_.copy()
    policy.fit(ctx.history)
    after = policy.module_.user.weight.detach().numpy()[: before.shape[0]]
    events = interaction_frame(ctx.history, 1.0)
    new = events.loc[events["t"] > 2.0]
    changed = np.isin(np.arange(before.shape[0]), new["user"].to_numpy())
    assert changed.any() and (~changed).any()
    np.testing.assert_array_equal(after[~changed], before[~changed])  # bit for bit
    assert (after[changed] != before[changed]).any(axis=1).all()
    np.testing.assert_array_equal(policy.user_vectors_[: vectors.shape[0]][~changed],
                                  vectors[~changed])  # fmt: skip
    assert policy.report_.examples == 2 * len(new), "a warm refit trains on the new pairs only"


def test_warm_refit_replays_older_pairs(ctx: CheckContext) -> None:
    from recarena.policies.recommenders.base import interaction_frame, truncate_history

    config = {"kind": "mf_dot", **SMALL, "refit": "warm", "warm_iterations": 1}
    policy = registry.make({**config, "warm_replay": 0.5})
    policy.setup(ctx.spec, np.random.default_rng(5))
    policy.fit(truncate_history(ctx.history, 2.0))
    policy.fit(ctx.history)
    events = interaction_frame(ctx.history, 1.0)
    n_new = int((events["t"] > 2.0).sum())
    assert policy.report_.examples == n_new + round(0.5 * n_new)


@pytest.mark.parametrize(
    ("kind", "replay", "batch"),
    [("mf_dot", 1.0, 1024), ("dssm_two_tower", 1.0, 8192), ("neumf", 0.5, 512)],
)
def test_warm_refits_take_each_model_default_replay_and_step(
    ctx: CheckContext, monkeypatch: pytest.MonkeyPatch, kind: str, replay: float, batch: int
) -> None:
    # What made each model's warm refits affordable on a 30-day run (bench/README.md): the
    # two-tower takes larger steps, NeuMF replays half an older pair per new one.
    from recarena.policies.recommenders import neural as policies
    from recarena.policies.recommenders.base import interaction_frame, truncate_history

    batches: list[int] = []
    train = policies.train_model

    def spy(module: Any, pairs: Pairs, cfg: NeuralConfig, *args: Any, **kwargs: Any) -> Any:
        batches.append(cfg.batch_size)
        return train(module, pairs, cfg, *args, **kwargs)

    monkeypatch.setattr(policies, "train_model", spy)
    policy = registry.make({"kind": kind, **SMALL, "refit": "warm"})
    policy.setup(ctx.spec, np.random.default_rng(5))
    policy.fit(truncate_history(ctx.history, 2.0))
    policy.fit(ctx.history)
    n_new = int((interaction_frame(ctx.history, 1.0)["t"] > 2.0).sum())
    epochs = policy.params.warm_iterations
    assert policy.report_.examples == epochs * (n_new + round(replay * n_new))
    assert batches == [policy.params.batch_size, batch]


def test_warm_refits_rank_within_tolerance_of_full_refits() -> None:
    """Daily fits on a random log of a small latent-factor world: warm refits (a full one
    every 4) rank the last day's interactions about as well as full daily refits."""
    from recarena.experiment.evaluate import evaluate_offline, global_time_split
    from recarena.policies.recommenders.base import truncate_history
    from recarena.simulator.engine import environment_spec
    from recarena.simulator.params import (
        BehaviourParams,
        CatalogueParams,
        PopulationParams,
        ScheduleParams,
        WorldParams,
    )
    from recarena.simulator.simulation import simulate
    from tests.simulator.helpers import DENSE_BEHAVIOUR, DENSE_POPULATION

    # The dense pre-calibration levels: enough clicks in 8 days on 600 users to learn from.
    world = WorldParams(
        population=PopulationParams(n_users=600, arrivals_per_day=20, **DENSE_POPULATION),
        catalogue=CatalogueParams(n_items=80, n_categories=8, latent_dim=8, popularity_sd=0.3),
        behaviour=BehaviourParams(preference_weight=4.0, **DENSE_BEHAVIOUR),
    )
    days = 8
    schedule = ScheduleParams(days=days, slate_size=10, retrain_every=1.0, keep_impressions=True)
    result = simulate(world, schedule, 11, registry.make({"kind": "random"}))
    engine, w = result.engine, result.world
    history = engine.history.snapshot(days, w.features, engine.state.joined(w))
    spec = environment_spec(w, schedule, frozenset({Surface.SLATE}))
    split = global_time_split(history, spec, t_split=days - 1.0)
    # Mean over three policy seeds: on one seed the warm − full gap ranged 0.000–0.047
    # (four seeds, the same code), too noisy for a bound that should catch a regression.
    ndcg: dict[str, float] = {"full": 0.0, "warm": 0.0}
    for seed in (11, 12, 13):
        for mode in ("full", "warm"):
            policy = registry.make(
                {"kind": "mf_dot", "factors": 8, "refit": mode, "full_refit_every": 4}
            )
            policy.setup(spec, np.random.default_rng(seed))
            for t in range(1, days):
                policy.fit(truncate_history(history, float(t)))
            table = evaluate_offline({mode: policy}, split, spec, slices=False, prefitted=True)
            ndcg[mode] += float(table.loc[table["metric"] == "ndcg@10", "value"].iloc[0]) / 3
    pop = evaluate_offline({"pop": {"kind": "popularity"}}, split, spec, slices=False)
    popularity = float(pop.loc[pop["metric"] == "ndcg@10", "value"].iloc[0])
    # Observed: full 0.434, warm 0.407 (per seed 0.387, 0.434, 0.401), popularity 0.230.
    assert abs(ndcg["warm"] - ndcg["full"]) < 0.04, ndcg
    assert ndcg["warm"] > 1.5 * popularity, (ndcg, popularity)


def test_growing_the_user_table_keeps_the_optimiser_state_of_old_rows() -> None:
    from recarena.models.neural import Optimisers, grow_users

    rng = np.random.default_rng(0)
    pairs = Pairs(rng.integers(0, 20, 400), rng.integers(0, 30, 400), np.sort(rng.random(400)))
    cfg = NeuralConfig("mf_dot", factors=4, epochs=1, validation_fraction=0.0)
    g = torch.Generator().manual_seed(0)
    module = build_model(cfg, 20, 30, g)
    optimisers = Optimisers(module, cfg)
    train_model(module, pairs, cfg, g, np.arange(30), optimisers=optimisers)
    weight = module.user.weight
    moments = optimisers.optimisers[0].state[weight]["exp_avg_sq"].clone()
    grow_users(module, 25, g)
    assert module.user.weight is weight and weight.shape == (25, 4)
    more = Pairs(np.full(50, 24), rng.integers(0, 30, 50), np.sort(rng.random(50)) + 1.0)
    train_model(module, more, cfg, g, np.arange(30), optimisers=optimisers)
    after = optimisers.optimisers[0].state[weight]["exp_avg_sq"]
    assert after.shape == (25, 4)
    np.testing.assert_array_equal(after[:20].numpy(), moments[:20].numpy())  # untouched rows
    assert (after[24] > 0).all() and (after[20:24] == 0).all()


@pytest.mark.parametrize("kind", ["dssm_two_tower", "neumf"])
def test_warm_refits_are_deterministic(ctx: CheckContext, kind: str) -> None:
    from recarena.policies.recommenders.base import truncate_history

    def warm_scores() -> np.ndarray:
        policy = registry.make({"kind": kind, **SMALL, "refit": "warm"})
        policy.setup(ctx.spec, np.random.default_rng(5))
        policy.fit(truncate_history(ctx.history, 2.0))
        policy.fit(ctx.history)
        return _scores(ctx, policy)

    np.testing.assert_array_equal(warm_scores(), warm_scores())


def test_warm_starts_train_with_the_warm_batch_and_negatives(
    ctx: CheckContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recarena.policies.recommenders import neural as policies
    from recarena.policies.recommenders.base import truncate_history

    seen: list[tuple[int, int, float]] = []
    train = policies.train_model

    def spy(module: Any, pairs: Pairs, cfg: NeuralConfig, *args: Any, **kwargs: Any) -> Any:
        seen.append((cfg.batch_size, cfg.negatives, cfg.validation_fraction))
        return train(module, pairs, cfg, *args, **kwargs)

    monkeypatch.setattr(policies, "train_model", spy)
    policy = registry.make(
        {"kind": "neumf", **SMALL, "refit": "warm", "full_refit_every": 2, "batch_size": 64,
         "negatives": 32, "warm_batch_size": 256, "warm_negatives": 8}
    )  # fmt: skip
    policy.setup(ctx.spec, np.random.default_rng(5))
    for t in (1.0, 2.0, 3.0):  # full, warm, full
        policy.fit(truncate_history(ctx.history, t))
    assert seen == [(64, 32, 0.1), (256, 8, 0.0), (64, 32, 0.1)]


def test_row_adam_matches_sparse_adam_with_lazy_l2_and_leaves_other_rows() -> None:
    from recarena.models.neural_modules import RowAdam

    g = torch.Generator().manual_seed(0)
    start = torch.randn(30, 4, generator=g)
    tables = [torch.nn.Embedding(30, 4, sparse=True) for _ in range(2)]
    for table in tables:
        table.weight.data.copy_(start)
    ours = RowAdam([tables[0].weight], lr=0.05, weight_decay=0.1)
    reference = torch.optim.SparseAdam([tables[1].weight], lr=0.05)
    for _ in range(5):
        ids = torch.randint(0, 20, (12,), generator=g)  # rows 20..29 are never used
        target = torch.randn(12, 4, generator=g)
        for table, optimiser in ((tables[0], ours), (tables[1], reference)):
            optimiser.zero_grad()
            ((table(ids) - target) ** 2).sum().backward()
            if optimiser is reference:  # lazy L2 on the touched rows, added by hand
                grad = table.weight.grad.coalesce()
                grad.values().add_(table.weight.detach()[grad.indices()[0]], alpha=0.1)
                table.weight.grad = grad
            optimiser.step()
        np.testing.assert_allclose(
            tables[0].weight.detach().numpy(), tables[1].weight.detach().numpy(), atol=1e-6
        )
    np.testing.assert_array_equal(tables[0].weight.detach()[20:].numpy(), start[20:].numpy())


def test_csr_rows_bag_reads_the_rows_asked_for() -> None:
    import scipy.sparse as sp

    from recarena.models.neural import CsrRows

    matrix = sp.csr_array(sp.random(12, 9, density=0.3, random_state=0, format="csr") > 0)
    matrix = sp.csr_array(matrix, dtype=np.float32)
    ids = np.array([3, 0, 3, 11, 5, 7], dtype=np.int64)
    indices, offsets, counts = CsrRows.of(matrix, "cpu").bag(torch.as_tensor(ids))
    sub = sp.csr_array(matrix[ids])
    np.testing.assert_array_equal(indices.numpy(), sub.indices)
    np.testing.assert_array_equal(offsets.numpy(), sub.indptr[:-1])
    np.testing.assert_array_equal(counts.numpy(), np.diff(sub.indptr))


def _small_two_tower(rng: np.random.Generator) -> tuple[Any, Any]:
    """A two-tower model over 10 users and 15 items with random content and histories, and
    its user inputs."""
    import scipy.sparse as sp

    from recarena.models.neural import item_content, user_inputs

    content = item_content(
        rng.integers(0, 3, 15), np.exp(rng.normal(3, 0.5, 15)),
        tuple(" ".join(f"w{w}" for w in rng.integers(0, 20, 4)) for _ in range(15)), 3,
    )  # fmt: skip
    history = rng.random((10, 15)) < 0.3
    inputs = user_inputs(rng.standard_normal((10, 2)).astype(np.float32), sp.csr_array(history))
    cfg = NeuralConfig("two_tower", factors=4, hidden=8)
    return build_model(cfg, 10, 15, torch.Generator().manual_seed(0), 2, content), inputs


def test_two_tower_encodes_a_batch_distinct_items_once_with_the_same_loss() -> None:
    rng = np.random.default_rng(0)
    module, inputs = _small_two_tower(rng)
    module.known.fill_(True)
    users = torch.as_tensor(rng.integers(0, 10, 20))
    items = torch.as_tensor(rng.integers(0, 15, 20))  # repeats: shared encodings
    negatives = torch.as_tensor(rng.integers(0, 15, 6))
    shared = _batch_loss(module, users, items, negatives, inputs, None, False)
    module.shared_items = False
    separate = _batch_loss(module, users, items, negatives, inputs, None, False)
    torch.testing.assert_close(shared, separate)


def test_two_tower_sums_a_batch_user_histories_once_with_the_same_vectors() -> None:
    rng = np.random.default_rng(1)
    module, inputs = _small_two_tower(rng)
    users = torch.as_tensor(rng.integers(0, 10, 30))  # repeated users, in no order
    items = torch.as_tensor(rng.integers(0, 15, 30))
    batch = module.encode_users(users, inputs, exclude=items)
    one_by_one = torch.cat(
        [module.encode_users(users[k : k + 1], inputs, exclude=items[k : k + 1]) for k in range(30)]
    )
    torch.testing.assert_close(batch, one_by_one)


def test_history_pairs_are_the_interaction_frame_in_its_order(ctx: CheckContext) -> None:
    from recarena.policies.recommenders.base import interaction_frame
    from recarena.policies.recommenders.neural import history_pairs

    frame = interaction_frame(ctx.history, 1.0)
    pairs = history_pairs(ctx.history)
    assert len(ctx.history.conversions) and pairs.size == len(frame)
    np.testing.assert_array_equal(pairs.users, frame["user"].to_numpy())
    np.testing.assert_array_equal(pairs.items, frame["item"].to_numpy())
    np.testing.assert_array_equal(pairs.t, frame["t"].to_numpy())


def test_history_pairs_sort_only_what_is_newer_than_the_previous_fit(ctx: CheckContext) -> None:
    from recarena.policies.recommenders.base import truncate_history
    from recarena.policies.recommenders.neural import history_pairs

    whole = history_pairs(ctx.history)
    for t in (1.0, 2.5):
        before = history_pairs(truncate_history(ctx.history, t))
        assert 0 < before.size < whole.size
        grown = history_pairs(ctx.history, (t, before))
        for field in ("users", "items", "t"):
            np.testing.assert_array_equal(getattr(grown, field), getattr(whole, field))
        # The earlier pairs are taken as they are, not sorted again: a marked copy shows.
        marked = Pairs(before.users[::-1].copy(), before.items, before.t)
        np.testing.assert_array_equal(
            history_pairs(ctx.history, (t, marked)).users[: before.size], marked.users
        )
        # Not a prefix of this log (its size disagrees): every pair is sorted afresh.
        wrong = (t + 0.5, marked)
        np.testing.assert_array_equal(history_pairs(ctx.history, wrong).users, whole.users)


def test_a_fit_keeps_the_log_pairs_for_the_next(ctx: CheckContext) -> None:
    from recarena.policies.recommenders.base import truncate_history
    from recarena.policies.recommenders.neural import history_pairs

    policy = registry.make({"kind": "neumf", **SMALL, "refit": "warm"})
    policy.setup(ctx.spec, np.random.default_rng(5))
    policy.fit(truncate_history(ctx.history, 2.0))
    assert policy._pairs[0] == 2.0
    policy.fit(ctx.history)
    t, pairs = policy._pairs
    assert t == ctx.history.t
    np.testing.assert_array_equal(pairs.users, history_pairs(ctx.history).users)
    np.testing.assert_array_equal(pairs.t, history_pairs(ctx.history).t)
