"""Speed of the neural and two-stage recommenders, and of incremental refits.

Run: ``python bench/bench_neural.py [--quick] [--output results.json] [--skip-runs]
[--only-runs] [--users N --days D] [--skip-als] [--skip-neural] [--neural-users N
--neural-days D --seeds S --neural-models ...]``

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
   time per refit, share of run time spent fitting (and the share of the incremental
   refits alone), decisions/s end to end, and the online outcome (CTR, true expected
   reward), on the same world and seed.
5. **Two-stage at scale** — the same world with daily refits of a two-stage policy (ALS +
   popularity candidates, CatBoostRanker): seconds per refit, fit share, total minutes.
   Sections 4 and 5 end with one table (``--skip-als`` leaves them out).
6. **Neural refits** — MF-dot, the two-tower DSSM and NeuMF (``--neural-models``) on a
   ``--neural-users`` × ``--neural-days`` world, ``--seeds`` seeds: full daily refits vs
   warm refits (``warm_iterations`` epochs over the new pairs and ``warm_replay`` replayed
   ones per new one, the previous fit's optimiser state, a full refit every
   ``full_refit_every`` fits),
   ``--seeds`` seeds from ``--first-seed``, paired by seed: time per refit, fit share,
   online CTR and true expected reward, and offline NDCG@10 of the model left by daily fits
   on a uniformly random log of the same world (the mean over its last 7 days, each ranked
   by the model fitted at its start, so the mean spans a cycle of weekly full refits); the
   paired Δ (warm − full) with a 95% t-interval over seeds (``--skip-neural`` leaves it
   out). Warm refits take each model's ``warm_iterations``, ``warm_replay``,
   ``warm_batch_size``, ``warm_negatives`` and ``full_refit_every`` defaults;
   ``--neural-set KEY=VALUE`` (repeatable, VALUE in JSON) changes any option of the
   compared models in both modes, and each ``--warm-variant JSON`` (repeatable) is one
   more warm arm with those options, against the same full runs.

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
#: The neural models' settings in the refit comparison (both modes; see bench/README.md).
#: The warm-refit options are left to each model's defaults, which are what is measured.
NEURAL_REFIT_MODEL: dict[str, Any] = {"factors": 32, "hidden": 32, "epochs": 8, "epsilon": 0.05}


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


def run_policy(
    config: dict[str, Any], n_users: int, n_items: int, days: float, seed: int = 1
) -> dict:
    """One daily-refit run: time split into fitting and the rest, and online outcomes."""
    from recarena.policies import registry
    from recarena.simulator.log import Col, Table
    from recarena.simulator.params import ScheduleParams
    from recarena.simulator.simulation import simulate

    schedule = ScheduleParams(days=days, slate_size=10, retrain_every=1.0)
    policy = registry.make(config)
    tic = time.perf_counter()
    with threadpool_limits(1):
        result = simulate(_world(n_users, n_items), schedule, seed, policy)
    wall = time.perf_counter() - tic
    stats = result.stats
    decisions = result.log.frame(Table.DECISIONS)
    seconds = result.log.frame(Table.FITS)[Col.SECONDS].to_numpy()
    # Which fits were full: the first and every full_refit_every-th (refit_plan's schedule;
    # the policy's own default when the config does not set it).
    incremental = config.get("refit", "full") != "full"
    every = getattr(policy.params, "full_refit_every", 1) if incremental else 1
    full = np.arange(seconds.size) % every == 0
    out = {
        "policy": config,
        "seed": seed,
        "seconds": wall,
        "fit_seconds": stats.fit_seconds,
        "fits": stats.fits,
        "seconds_per_fit": stats.fit_seconds / max(stats.fits, 1),
        "fit_share": stats.fit_seconds / wall,
        "full_fit_share": float(seconds[full].sum()) / wall,
        "incremental_fit_share": float(seconds[~full].sum()) / wall,
        "seconds_per_incremental_fit": float(seconds[~full].mean()) if (~full).any() else 0.0,
        "decisions": stats.decisions,
        "decisions_per_second": stats.decisions / wall,
        "ctr": float(decisions[Col.CLICK].mean()),
        "expected_reward": float(decisions[Col.EXPECTED_REWARD].mean()),
    }
    name = f"{config['kind']}/{config.get('refit', 'full')}"
    print(f"  {name:<22} seed {seed}: {wall:7.1f} s, fits {stats.fit_seconds:6.1f} s "
          f"({out['fit_share']:.0%}, {out['seconds_per_fit']:.2f} s/fit), "
          f"{out['decisions_per_second']:,.0f} decisions/s, CTR {out['ctr']:.4f}, "
          f"E[reward] {out['expected_reward']:.4f}", flush=True)  # fmt: skip
    return out


def warm_up() -> None:
    """Load the engine's compiled kernels, torch and the modules torch imports on the first
    model built on its ``meta`` device before anything is timed (a first run would
    otherwise count seconds of one-off loading as its own fit time)."""
    import torch

    from recarena.models.neural import NeuralConfig, build_model
    from recarena.policies import registry
    from recarena.simulator.params import ScheduleParams
    from recarena.simulator.simulation import simulate

    with threadpool_limits(1):
        build_model(NeuralConfig("mf_dot", factors=2), 2, 2, torch.Generator())
        simulate(_world(500, 100), ScheduleParams(days=1.0, slate_size=10), 0,
                 registry.make({"kind": "popularity"}))  # fmt: skip


def random_log(n_users: int, n_items: int, days: int, seed: int) -> tuple[Any, Any]:
    """(history, spec) of a uniformly random policy's log: the offline benchmark's data."""
    from recarena.contract import Surface
    from recarena.experiment.evaluate import history_from_tables
    from recarena.policies import registry
    from recarena.simulator.engine import environment_spec
    from recarena.simulator.log import Table
    from recarena.simulator.params import ScheduleParams
    from recarena.simulator.simulation import simulate

    schedule = ScheduleParams(days=days, slate_size=10, retrain_every=1.0)
    with threadpool_limits(1):
        result = simulate(
            _world(n_users, n_items), schedule, seed, registry.make({"kind": "random"})
        )
    tables = {t: result.log.frame(t) for t in (Table.DECISIONS, Table.CONVERSIONS, Table.LIFECYCLE)}
    world = result.world
    history = history_from_tables(tables, world.features, world.feature_names)
    return history, environment_spec(world, schedule, frozenset({Surface.SLATE}))


#: Days at the end of the random log whose NDCG@10 the offline column averages: a week, so
#: the mean spans a whole cycle of weekly full refits wherever the last one fell.
OFFLINE_DAYS = 7


def offline_ndcg(config: dict[str, Any], history: Any, spec: Any, days: int, seed: int) -> float:
    """Mean NDCG@10 over the last :data:`OFFLINE_DAYS` days of ``history``, each day ranked
    by the policy left by daily fits up to its start (fits on days 1..days−1, each on the log
    up to then): :func:`recarena.experiment.evaluate.evaluate_offline` on the global time
    split at each of those fits, tested on the day after it, with the sequence-fitted policy."""
    from recarena.experiment.evaluate import evaluate_offline, global_time_split
    from recarena.policies import registry
    from recarena.policies.recommenders.base import truncate_history

    policy = registry.make({**config, "epsilon": 0.0})
    policy.setup(spec, np.random.default_rng(seed))
    scores = []
    with threadpool_limits(1):
        for t in range(1, days):
            policy.fit(truncate_history(history, float(t)))
            if t < days - OFFLINE_DAYS:
                continue
            day = global_time_split(truncate_history(history, t + 1.0), spec, t_split=float(t))
            table = evaluate_offline({"m": policy}, day, spec, slices=False, prefitted=True)
            scores.append(float(table.loc[table["metric"] == "ndcg@10", "value"].iloc[0]))
    return float(np.mean(scores))


def _paired(full_rows: list[dict], warm_rows: list[dict], key: str) -> dict[str, float]:
    """Mean of ``key`` over seeds per refit mode, and warm − full with a 95% t-interval
    (the rows in the same seed order)."""
    from scipy import stats as st

    full = np.array([r[key] for r in full_rows])
    warm = np.array([r[key] for r in warm_rows])
    diff = warm - full
    half = (
        st.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / np.sqrt(diff.size)
        if diff.size > 1
        else float("nan")
    )
    return {"full": float(full.mean()), "warm": float(warm.mean()),
            "delta": float(diff.mean()), "ci_low": float(diff.mean() - half),
            "ci_high": float(diff.mean() + half)}  # fmt: skip


def bench_neural_refits(
    kinds: list[str], n_users: int, n_items: int, days: int, seeds: list[int],
    model: dict[str, Any], variants: list[dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    """Full daily refits vs warm refits for each neural model, paired by seed: fit share and
    online outcomes of a daily-refit run, and offline NDCG@10 of the model left by daily
    fits on a random log of the same world. Each of ``variants`` (options of the warm runs
    only, e.g. another ``full_refit_every``) is one warm arm against the same full runs."""
    out: dict[str, Any] = {"runs": [], "summary": []}
    logs = {seed: random_log(n_users, n_items, days, seed) for seed in seeds}
    keys = ("fit_share", "incremental_fit_share", "seconds_per_fit",
            "seconds_per_incremental_fit", "ctr", "expected_reward", "ndcg@10")  # fmt: skip
    for kind in kinds:
        arms: list[tuple[str, dict[str, Any]]] = [("full", {})]
        arms += [("warm", variant) for variant in variants]
        rows: dict[int, list[dict]] = {arm: [] for arm in range(len(arms))}
        for seed in seeds:
            for arm, (mode, variant) in enumerate(arms):
                config = {"kind": kind, **model, "refit": mode, **variant}
                row = run_policy(config, n_users, n_items, days, seed)
                row["ndcg@10"] = offline_ndcg(config, *logs[seed], days, seed)
                row["refit"], row["variant"] = mode, variant
                print(f"    offline NDCG@10 {row['ndcg@10']:.4f}", flush=True)
                rows[arm].append(row)
                out["runs"].append(row)
        for arm in range(1, len(arms)):
            out["summary"].append(
                {"model": kind, "variant": arms[arm][1],
                 **{key: _paired(rows[0], rows[arm], key) for key in keys}}
            )  # fmt: skip
    print(f"\nNeural refits, {n_users:,} users × {days} days, {len(seeds)} seeds "
          "(mean over seeds; Δ = warm − full, paired by seed, 95% t-interval):")  # fmt: skip
    print(f"  {'model':<15} {'refit':<24} {'s/refit':>8} {'s/warm':>7} {'fit share':>9} "
          f"{'warm share':>10} {'CTR':>7} {'E[reward]':>9} {'NDCG@10':>8}")  # fmt: skip
    for i, summary in enumerate(out["summary"]):
        first = i == 0 or out["summary"][i - 1]["model"] != summary["model"]
        for mode in ("full", "warm") if first else ("warm",):
            m = {key: summary[key][mode] for key in keys}
            label = summary["model"] if mode == "full" else ""
            warm = mode == "warm"
            name = f"warm {json.dumps(summary['variant'])}" if warm and summary["variant"] else mode
            per_warm = f"{m['seconds_per_incremental_fit']:.2f}" if warm else "—"
            share = f"{m['incremental_fit_share']:.0%}" if warm else "—"
            print(f"  {label:<15} {name:<24} {m['seconds_per_fit']:>8.2f} {per_warm:>7} "
                  f"{m['fit_share']:>9.0%} {share:>10} {m['ctr']:>7.4f} "
                  f"{m['expected_reward']:>9.4f} {m['ndcg@10']:>8.4f}")  # fmt: skip
        for key in ("ctr", "expected_reward", "ndcg@10"):
            d = summary[key]
            print(f"  {'':<15} Δ {key:<22} {d['delta']:+.4f} [{d['ci_low']:+.4f}, "
                  f"{d['ci_high']:+.4f}]")  # fmt: skip
    return out


def _share_table(title: str, rows: list[dict]) -> None:
    """Time per refit and share of total time of single-seed runs, as a table."""
    print(f"\n{title}")
    print(f"  {'policy':<26} {'total s':>8} {'s/refit':>8} {'s/incr.':>8} {'fit share':>9} "
          f"{'incr. share':>11} {'decisions/s':>12} {'CTR':>7}")  # fmt: skip
    for r in rows:
        name = f"{r['policy']['kind']}/{r['policy'].get('refit', 'full')}"
        incremental = r["policy"].get("refit", "full") != "full"
        per_fit = f"{r['seconds_per_incremental_fit']:.2f}" if incremental else "—"
        share = f"{r['incremental_fit_share']:.0%}" if incremental else "—"
        print(f"  {name:<26} {r['seconds']:>8.1f} {r['seconds_per_fit']:>8.2f} {per_fit:>8} "
              f"{r['fit_share']:>9.0%} {share:>11} {r['decisions_per_second']:>12,.0f} "
              f"{r['ctr']:>7.4f}")  # fmt: skip


def _option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` (VALUE in JSON, else a plain string) as a policy option."""
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--output", type=Path, default=Path("bench/results/neural.json"))
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--skip-runs", action="store_true", help="skip sections 4 to 6")
    parser.add_argument(
        "--train", type=int, nargs=3, default=[50_000, 10_000, 200_000],
        metavar=("USERS", "ITEMS", "PAIRS"), help="size of the training-throughput log",
    )  # fmt: skip
    parser.add_argument("--score-users", type=int, default=20_000, help="users scored")
    parser.add_argument("--only-runs", action="store_true", help="only sections 4 to 6")
    parser.add_argument("--skip-neural", action="store_true", help="no neural refit runs")
    parser.add_argument("--skip-als", action="store_true", help="no ALS / two-stage runs")
    parser.add_argument("--neural-users", type=int, default=2_000, help="neural refit world")
    parser.add_argument("--neural-days", type=int, default=10, help="neural refit days")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the neural refit runs")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds count from this one")
    parser.add_argument(
        "--neural-models", nargs="+", default=["mf_dot", "dssm_two_tower", "neumf"],
        help="models of the neural refit comparison",
    )  # fmt: skip
    parser.add_argument(
        "--neural-set", action="append", default=[], metavar="KEY=VALUE",
        help="an option of the compared neural models (VALUE in JSON), e.g. warm_batch_size=512",
    )  # fmt: skip
    parser.add_argument(
        "--warm-variant", action="append", default=[], metavar="JSON",
        help="options of one warm arm only, as a JSON object (repeatable: each is compared "
        "with the same full daily runs), e.g. '{\"full_refit_every\": 14}'",
    )  # fmt: skip
    args = parser.parse_args()
    neural_model = {**NEURAL_REFIT_MODEL, **dict(_option(text) for text in args.neural_set)}
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
        warm_up()
        users, days = (2_000, 3.0) if quick else (args.users, args.days)
        n_items = 200 if quick else 1_000
        if not args.skip_als:
            print(f"Daily ALS refits on {users:,} users × {days:g} days (full refit every 7 fits)")
            als = {"kind": "als", "factors": 32, "regularization": 1.0, "epsilon": 0.05}
            result["refits"] = [
                run_policy({**als, "refit": mode}, users, n_items, days)
                for mode in ("full", "warm", "partial")
            ]
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
            _share_table(
                f"Daily refits, {users:,} users × {days:g} days, one seed:",
                [*result["refits"], result["two_stage"]],
            )
        if not args.skip_neural:
            n_users, n_days = (1_000, 4) if quick else (args.neural_users, args.neural_days)
            print(f"\nDaily neural refits on {n_users:,} users × {n_days} days")
            seeds = range(args.first_seed, args.first_seed + (1 if quick else args.seeds))
            result["neural_refits"] = bench_neural_refits(
                args.neural_models, n_users, n_items, n_days, list(seeds), neural_model,
                [json.loads(text) for text in args.warm_variant] or [{}],
            )  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
