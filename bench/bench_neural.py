"""Speed of the neural and two-stage recommenders, and of incremental refits.

Run: ``python bench/bench_neural.py [--quick] [--output results.json] [--skip-runs]``

1. **Training throughput** — examples (positive pairs) per second of one epoch of MF-dot,
   DSSM, two-tower DSSM and NeuMF (sampled softmax, 64 shared negatives, batches of 512) on
   a synthetic log, with ``torch.set_num_threads(1)`` and ``(2)``.
2. **Scoring** — top-10 over 10,000 items for MF-dot and the two-tower DSSM through
   ``policy.recommend`` (one thread), against the bound measured in the same run: the bare
   float32 matrix product of the same vectors plus the shared blockwise top-k.
3. **Thread clash** — ``implicit`` ALS fits interleaved with PyTorch training steps in one
   process: with every library at its default thread count (torch's OpenMP pool, OpenBLAS
   and implicit each sized to the machine) against the limits the policies hold
   (``threadpoolctl`` + ``torch.set_num_threads``); the ratio is the slowdown avoided.
4. **Refits that scale with what changed** — a ``--users``-user, ``--days``-day world with
   daily refits of ALS: ``refit: full`` vs ``warm`` (2 sweeps from the previous factors)
   vs ``partial`` (re-solve changed users and items), each with a full refit every 7 days:
   share of run time spent fitting, decisions/s end to end, and the online outcome
   (CTR, true expected reward) of each, on the same world and seed. The same for MF-dot and
   the two-tower DSSM (``full`` vs ``warm``: 2 epochs from the previous weights) on a tenth
   of the users.
5. **Two-stage at scale** — the same world with daily refits of a two-stage policy (ALS +
   popularity candidates, CatBoostRanker): seconds per refit, fit share, total minutes.

Results go to ``--output`` (JSON). All comparisons are ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recarena.numerics.topk import blockwise_top_k


# ------------------------------------------------------------------------------ 1. training
def synthetic_pairs(n_users: int, n_items: int, n: int, seed: int = 0) -> Any:
    """Time-ordered (user, item) pairs with a rank-8 taste structure."""
    from recarena.models.neural import Pairs

    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    taste = rng.standard_normal((n_users, 8)).astype(np.float32)
    item_vec = rng.standard_normal((n_items, 8)).astype(np.float32)
    cand = rng.integers(0, n_items, (n, 20))
    scores = np.einsum("bd,bkd->bk", taste[users], item_vec[cand])
    items = cand[np.arange(n), scores.argmax(axis=1)]
    return Pairs(users.astype(np.int64), items.astype(np.int64), np.sort(rng.random(n)))


def bench_training(n_users: int, n_items: int, n_pairs: int, threads: list[int]) -> list[dict]:
    import torch

    from recarena.models.neural import (
        NeuralConfig,
        build_model,
        item_content,
        torch_threads,
        train_model,
        user_inputs,
    )

    pairs = synthetic_pairs(n_users, n_items, n_pairs)
    rng = np.random.default_rng(1)
    content = item_content(
        rng.integers(0, 10, n_items), np.exp(rng.normal(3, 0.5, n_items)),
        tuple(" ".join(f"w{w}" for w in rng.integers(0, 300, 8)) for _ in range(n_items)), 10,
    )  # fmt: skip
    history = sp.csr_array(
        (np.ones(pairs.size, np.float32), (pairs.users, pairs.items)), shape=(n_users, n_items)
    )
    inputs = user_inputs(rng.standard_normal((n_users, 12)).astype(np.float32), history)
    rows = []
    for arch in ("mf_dot", "dssm", "two_tower", "neumf"):
        for n_threads in threads:
            cfg = NeuralConfig(arch, factors=32, hidden=64, epochs=1, validation_fraction=0.0)
            g = torch.Generator().manual_seed(0)
            with torch_threads(n_threads), threadpool_limits(n_threads):
                module = build_model(cfg, n_users, n_items, g, 12, content)
                report = train_model(
                    module, pairs, cfg, g, np.arange(n_items, dtype=np.int64),
                    inputs if arch == "two_tower" else None,
                )  # fmt: skip
            rows.append(
                {
                    "model": arch,
                    "threads": n_threads,
                    "examples_per_second": report.examples_per_second,
                }
            )
            print(
                f"  {arch:<10} threads={n_threads}: {report.examples_per_second:>10,.0f} examples/s"
            )
    return rows


# ------------------------------------------------------------------------------ 2. scoring
def _best_rate(fn: Callable[[], None], n_users: int, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        tic = time.perf_counter()
        fn()
        best = max(best, n_users / (time.perf_counter() - tic))
    return best


def _spec(n_items: int, n_features: int = 12) -> Any:
    from recarena.contract import Surface
    from recarena.experiment.checks import check_context

    rng = np.random.default_rng(3)
    spec = check_context(Surface.SLATE).spec
    return replace(
        spec,
        n_items=n_items,
        item_category=rng.integers(0, 10, n_items),
        item_price=np.exp(rng.normal(3, 0.5, n_items)),
        item_release_time=np.zeros(n_items),
        item_text=tuple(" ".join(f"w{w}" for w in rng.integers(0, 300, 8)) for _ in range(n_items)),
        n_categories=10,
        feature_names=tuple(f"f{j}" for j in range(n_features)),
    )


def bench_scoring(n_users: int, n_items: int, rounds: int) -> list[dict]:
    """Users/s of policy.recommend (MF-dot, two-tower) vs matmul + blockwise top-k, 1 thread."""
    from recarena.policies import registry

    spec = _spec(n_items)
    rng = np.random.default_rng(0)
    block = (1 << 22) // n_items  # the users per block policy.recommend scores at once
    # Fit each model briefly on a small synthetic history so recommend() runs its real path.
    pairs = synthetic_pairs(n_users, n_items, 4 * n_users)
    history_matrix = sp.csr_array(
        (np.ones(pairs.size, np.float32), (pairs.users, pairs.items)), shape=(n_users, n_items)
    )
    rows = []
    features = rng.standard_normal((n_users, 12)).astype(np.float32)
    ids = np.arange(n_users, dtype=np.int64)
    available = np.ones(n_items, dtype=bool)
    for kind in ("mf_dot", "dssm_two_tower"):
        policy = registry.make({"kind": kind, "factors": 64, "epochs": 1, "threads": 1})
        policy.setup(spec, np.random.default_rng(0))
        _fit_from_matrix(policy, history_matrix, features, pairs)
        item_vec = np.ascontiguousarray(policy.item_vectors_)
        user_vec = np.ascontiguousarray(
            policy._user_vectors(ids, features, policy.current_rows(ids)), dtype=np.float32
        )

        def bound(iv: np.ndarray = item_vec, uv: np.ndarray = user_vec) -> None:
            for s in range(0, n_users, block):
                blockwise_top_k(iv @ uv[s : s + block].T, 10)

        def recommend(p: Any = policy) -> None:
            p.recommend(ids, features, available, 10)

        with threadpool_limits(1):
            rate_bound = _best_rate(bound, n_users, rounds)
            rate = _best_rate(recommend, n_users, rounds)
        rows.append(
            {"model": kind, "users_per_second": rate, "bound_users_per_second": rate_bound,
             "share_of_bound": rate / rate_bound}
        )  # fmt: skip
        print(f"  {kind:<15} {rate:>10,.0f} users/s  bound {rate_bound:>10,.0f}  "
              f"({rate / rate_bound:.0%} of the bound)")  # fmt: skip
    return rows


def _fit_from_matrix(policy: Any, matrix: sp.csr_array, features: np.ndarray, pairs: Any) -> None:
    """Fit a recommender on a History built from a synthetic interaction matrix."""
    import pandas as pd

    from recarena.contract import History

    coo = matrix.tocoo()
    clicks = pd.DataFrame(
        {"t": np.linspace(0, 1, coo.nnz), "user": coo.row.astype(np.int64),
         "item": coo.col.astype(np.int64), "position": np.zeros(coo.nnz, np.int64)}
    )  # fmt: skip
    empty = pd.DataFrame({"t": [], "user": [], "item": [], "revenue": []})
    user_features = pd.DataFrame(features, index=np.arange(features.shape[0]))
    history = History(
        t=1.0, clicks=clicks, conversions=empty, impressions=pd.DataFrame(),
        campaigns=pd.DataFrame(), lifecycle=pd.DataFrame(), user_features=user_features,
    )  # fmt: skip
    policy.fit(history)


# ------------------------------------------------------------------------------ 3. clash
@contextmanager
def _no_limits() -> Iterator[None]:
    yield


def bench_clash(n_users: int, n_items: int, nnz: int, rounds: int) -> dict[str, float]:
    """ALS fit + torch training interleaved: default threads vs the policies' limits."""
    import torch
    from implicit.cpu.als import AlternatingLeastSquares

    from recarena.models.neural import NeuralConfig, build_model, torch_threads, train_model

    pairs = synthetic_pairs(n_users, n_items, nnz)
    matrix = sp.csr_matrix(
        (np.ones(pairs.size, np.float32), (pairs.users, pairs.items)), shape=(n_users, n_items)
    )
    small = replace(
        pairs, users=pairs.users[:20_000], items=pairs.items[:20_000], t=pairs.t[:20_000]
    )
    cfg = NeuralConfig("mf_dot", factors=32, epochs=1, validation_fraction=0.0)
    cores = torch.get_num_threads()

    def cycle(limited: bool) -> float:
        """Seconds of ``rounds`` (ALS fit, torch epoch) cycles."""
        tic = time.perf_counter()
        for _ in range(rounds):
            g = torch.Generator().manual_seed(0)
            guard = threadpool_limits(1) if limited else _no_limits()
            with guard, torch_threads(1 if limited else cores):
                module = build_model(cfg, n_users, n_items, g)
                train_model(module, small, cfg, g, np.arange(n_items, dtype=np.int64))
            with threadpool_limits(1, user_api="blas") if limited else _no_limits():
                AlternatingLeastSquares(
                    factors=32, iterations=3, num_threads=cores, random_state=0
                ).fit(matrix, show_progress=False)
        return time.perf_counter() - tic

    limited = min(cycle(True) for _ in range(2))
    default = min(cycle(False) for _ in range(2))
    print(f"  ALS + torch, {rounds} cycles: limits {limited:.2f} s, defaults {default:.2f} s "
          f"(×{default / limited:.2f})")  # fmt: skip
    return {"limited_seconds": limited, "default_seconds": default, "ratio": default / limited}


# ------------------------------------------------------------------------------ 4-5. runs
def _world(n_users: int, n_items: int) -> Any:
    from recarena.simulator.params import (
        BehaviourParams,
        CatalogueParams,
        PopulationParams,
        WorldParams,
    )

    return WorldParams(
        population=PopulationParams(n_users=n_users, arrivals_per_day=n_users / 100),
        catalogue=CatalogueParams(n_items=n_items, n_categories=10, latent_dim=8,
                                  new_items_per_day=2),
        behaviour=BehaviourParams(preference_weight=3.0),
    )  # fmt: skip


def run_policy(config: dict[str, Any], n_users: int, n_items: int, days: float) -> dict:
    """One daily-refit run: time split into fitting and the rest, and online outcomes."""
    from recarena.policies import registry
    from recarena.simulator.log import Col, Table
    from recarena.simulator.params import ScheduleParams
    from recarena.simulator.simulation import simulate

    schedule = ScheduleParams(days=days, slate_size=10, retrain_every=1.0)
    tic = time.perf_counter()
    with threadpool_limits(1):
        result = simulate(_world(n_users, n_items), schedule, 1, registry.make(config))
    wall = time.perf_counter() - tic
    stats = result.stats
    decisions = result.log.frame(Table.DECISIONS)
    out = {
        "policy": config,
        "seconds": wall,
        "fit_seconds": stats.fit_seconds,
        "fits": stats.fits,
        "seconds_per_fit": stats.fit_seconds / max(stats.fits, 1),
        "fit_share": stats.fit_seconds / wall,
        "decisions": stats.decisions,
        "decisions_per_second": stats.decisions / wall,
        "ctr": float(decisions[Col.CLICK].mean()),
        "expected_reward": float(decisions[Col.EXPECTED_REWARD].mean()),
    }
    name = f"{config['kind']}/{config.get('refit', 'full')}"
    print(f"  {name:<22} {wall:7.1f} s, fits {stats.fit_seconds:6.1f} s "
          f"({out['fit_share']:.0%}, {out['seconds_per_fit']:.2f} s/fit), "
          f"{out['decisions_per_second']:,.0f} decisions/s, CTR {out['ctr']:.4f}, "
          f"E[reward] {out['expected_reward']:.4f}")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--output", type=Path, default=Path("bench/results/neural.json"))
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--skip-runs", action="store_true", help="skip sections 4 and 5")
    parser.add_argument(
        "--train", type=int, nargs=3, default=[50_000, 10_000, 200_000],
        metavar=("USERS", "ITEMS", "PAIRS"), help="size of the training-throughput log",
    )  # fmt: skip
    parser.add_argument("--score-users", type=int, default=20_000, help="users scored")
    parser.add_argument("--only-runs", action="store_true", help="only sections 4 and 5")
    args = parser.parse_args()
    quick = args.quick
    result: dict[str, Any] = {}
    if not args.only_runs:
        print("Training throughput (one epoch, examples = positive pairs)")
        result["training"] = bench_training(
            *((2_000, 1_000, 10_000) if quick else tuple(args.train)), threads=[1, 2]
        )
        print("Scoring: top-10 over the catalogue, one thread")
        result["scoring"] = bench_scoring(
            *((1_024, 2_000) if quick else (args.score_users, 10_000)), rounds=1 if quick else 3
        )
        print("Thread clash: ALS fits interleaved with torch training")
        result["clash"] = bench_clash(
            *((2_000, 500, 20_000) if quick else (50_000, 5_000, 500_000)),
            rounds=1 if quick else 3,
        )
    if not args.skip_runs:
        users, days = (2_000, 3.0) if quick else (args.users, args.days)
        n_items = 200 if quick else 1_000
        print(f"Daily ALS refits on {users:,} users × {days:g} days (full refit every 7 fits)")
        als = {"kind": "als", "factors": 32, "regularization": 1.0, "epsilon": 0.05}
        result["refits"] = [
            run_policy({**als, "refit": mode}, users, n_items, days)
            for mode in ("full", "warm", "partial")
        ]
        neural_users = max(users // 10, 1_000)
        print(f"Daily neural refits on {neural_users:,} users × {days:g} days")
        result["neural_refits"] = [
            run_policy({"kind": kind, "factors": 32, "epsilon": 0.05, "refit": mode},
                       neural_users, n_items, days)
            for kind in ("mf_dot", "dssm_two_tower")
            for mode in ("full", "warm")
        ]  # fmt: skip
        print(f"Two-stage daily refits on {users:,} users × {days:g} days")
        two_stage = {
            "kind": "two_stage", "epsilon": 0.05, "max_training_users": 5_000,
            "generators": [
                {"policy": {**als, "epsilon": 0.0, "refit": "partial"}, "candidates": 50},
                {"policy": {"kind": "segment_popularity", "by": "kmeans", "n_segments": 1},
                 "candidates": 30},
            ],
        }  # fmt: skip
        result["two_stage"] = run_policy(two_stage, users, n_items, days)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
