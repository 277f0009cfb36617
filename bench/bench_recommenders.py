"""Speed of the recommenders: ALS fit time per iteration and slate-scoring throughput.

Run: ``python bench/bench_recommenders.py [--quick] [--threads 1 2]``

1. **ALS fit** — ``implicit``'s CPU ALS (conjugate gradient, 64 factors, as
   :class:`recarena.policies.recommenders.collaborative.ALSRecommender` configures it) on a
   synthetic implicit-feedback matrix with ≥ 1M interactions (Zipf item popularity, low-rank user
   taste), timed per iteration (total fit time / iterations; the fit is repeated and the
   fastest kept).
2. **Scoring** — top-10 over a 10,000-item catalogue with 64-factor vectors, in users per
   second, for

   * ``matmul bound`` — the bare matrix product that produces the scores, block by block
     (nothing selected): no top-k method can beat it;
   * ``blockwise top-k`` — the same product followed by
     :func:`recarena.analysis.ranking.blockwise_top_k` (sub-chunk and chunk maxima, then
     exact selection among the candidates, ties by id) — what every factor recommender runs;
   * ``policy.recommend`` — the whole :meth:`HistoryRecommender.recommend` path of an ALS
     policy with ``threads`` threads (availability, consumed-item rows, fallback checks,
     top-up; with 2 threads, blocks of users are ranked on 2 workers);
   * ``ranking.top_k`` — :func:`recarena.analysis.ranking.top_k` on the user-major score
     matrix (an item-major copy per block, then the same kernel), and ``torch.topk`` when
     PyTorch is installed (for comparison).

   All in the same process and the same run, interleaved and best-of-N, so the ratio to the
   bound is meaningful on a shared machine. Threads are limited with ``threadpoolctl``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recarena.numerics.topk import blockwise_top_k, top_k


def synthetic_interactions(
    n_users: int, n_items: int, nnz: int, rank: int, rng: np.random.Generator
) -> sp.csr_array:
    """A user × item count matrix with ``≈ nnz`` entries: Zipf item popularity mixed with a
    rank-``rank`` taste model, so ALS has structure to find."""
    users = rng.integers(0, n_users, nnz)
    taste = rng.standard_normal((n_users, rank)).astype(np.float32)
    item_vec = rng.standard_normal((n_items, rank)).astype(np.float32)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    # Half the events follow popularity, half the user's best of 50 random items.
    items = rng.choice(n_items, nnz, p=popularity)
    half = rng.random(nnz) < 0.5
    cand = rng.integers(0, n_items, (int(half.sum()), 50))
    scores = np.einsum("bd,bkd->bk", taste[users[half]], item_vec[cand])
    items[half] = cand[np.arange(cand.shape[0]), scores.argmax(axis=1)]
    mat = sp.csr_array(
        (np.ones(nnz, np.float32), (users, items)), shape=(n_users, n_items), dtype=np.float32
    )
    mat.sum_duplicates()
    return mat


def bench_als(mat: sp.csr_array, threads: int, iterations: int, repeats: int) -> float:
    """Seconds per ALS iteration (best of ``repeats`` fits)."""
    from implicit.cpu.als import AlternatingLeastSquares

    best = np.inf
    data = sp.csr_matrix(mat)
    for _ in range(repeats):
        # implicit runs its own threads; OpenBLAS must stay single-threaded inside them.
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=64, regularization=1.0, alpha=2.0, iterations=iterations,
                num_threads=threads, random_state=0,
            )  # fmt: skip
            tic = time.perf_counter()
            model.fit(data, show_progress=False)
            best = min(best, time.perf_counter() - tic)
    return best / iterations


def _rate(fn: Callable[[], None], n_users: int) -> float:
    tic = time.perf_counter()
    fn()
    return n_users / (time.perf_counter() - tic)


def bench_scoring(
    n_users: int, n_items: int, factors: int, k: int, block: int, threads: int, rounds: int
) -> dict[str, float]:
    """Users per second of each scoring variant (best of ``rounds``, interleaved)."""
    rng = np.random.default_rng(0)
    users_vec = rng.standard_normal((n_users, factors), dtype=np.float32)
    items_vec = rng.standard_normal((n_items, factors), dtype=np.float32)

    def matmul() -> None:
        for s in range(0, n_users, block):
            items_vec @ users_vec[s : s + block].T

    def blockwise() -> None:
        for s in range(0, n_users, block):
            blockwise_top_k(items_vec @ users_vec[s : s + block].T, k)

    def ranking_top_k() -> None:
        for s in range(0, n_users, block):
            top_k(users_vec[s : s + block] @ items_vec.T, k)

    policy = _als_policy(users_vec, items_vec, threads)
    ids = np.arange(n_users, dtype=np.int64)
    features = np.zeros((n_users, policy.spec_.n_features), dtype=np.float32)
    available = np.ones(n_items, dtype=bool)

    def recommend() -> None:
        policy.recommend(ids, features, available, k)

    variants: dict[str, Callable[[], None]] = {
        "matmul bound": matmul,
        "blockwise top-k": blockwise,
        "policy.recommend": recommend,
        "ranking.top_k": ranking_top_k,
    }
    try:
        import torch

        items_t = torch.from_numpy(items_vec)

        def torch_topk() -> None:
            for s in range(0, n_users, block):
                torch.topk(items_t @ torch.from_numpy(users_vec[s : s + block]).T, k, dim=0)

        variants["torch.topk"] = torch_topk
    except ImportError:
        pass
    best = dict.fromkeys(variants, 0.0)
    with threadpool_limits(limits=threads):
        if "torch.topk" in variants:
            import torch

            torch.set_num_threads(threads)
        for _ in range(rounds):
            for name, fn in variants.items():
                best[name] = max(best[name], _rate(fn, n_users))
    return best


def _als_policy(users_vec: np.ndarray, items_vec: np.ndarray, threads: int):  # type: ignore[no-untyped-def]
    """An ALS policy holding given factors, as if fitted (for the recommend() path), scoring
    with ``threads`` threads."""
    from recarena.contract import Surface
    from recarena.experiment.checks import check_context
    from recarena.policies import registry
    from recarena.policies.recommenders.base import FactorRecommender

    n_users, n_items = users_vec.shape[0], items_vec.shape[0]
    spec = check_context(Surface.SLATE).spec
    spec = replace(
        spec,
        n_items=n_items,
        item_category=np.zeros(n_items, dtype=np.int64),
        item_price=np.ones(n_items),
        item_release_time=np.zeros(n_items),
        item_text=("item",) * n_items,
    )
    policy = registry.make({"kind": "als", "factors": users_vec.shape[1], "threads": threads})
    assert isinstance(policy, FactorRecommender)
    policy.setup(spec, np.random.default_rng(0))
    policy.fit_matrix_ = sp.csr_array(
        (np.ones(n_users, np.float32), (np.arange(n_users), np.arange(n_users) % n_items)),
        shape=(n_users, n_items),
    )
    policy.user_vectors_ = users_vec  # type: ignore[attr-defined]
    policy.item_vectors_ = items_vec
    policy.item_scorable_ = np.ones(n_items, dtype=bool)
    policy.fitted_ = True
    return policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    rng = np.random.default_rng(42)
    n_users, n_items, nnz = (20_000, 5_000, 200_000) if args.quick else (100_000, 20_000, 1_200_000)
    mat = synthetic_interactions(n_users, n_items, nnz, rank=16, rng=rng)
    print(f"ALS: {mat.shape[0]:,} users × {mat.shape[1]:,} items, {mat.nnz:,} interactions, "
          "64 factors")  # fmt: skip
    for threads in args.threads:
        per_iter = bench_als(mat, threads, iterations=3 if args.quick else 5, repeats=2)
        print(f"  threads={threads}: {per_iter:.3f} s per iteration")
    n_score = 4_096 if args.quick else 20_000
    print(f"Scoring: top-10 over 10,000 items, 64 factors, {n_score:,} users, blocks of 512")
    for threads in args.threads:
        rates = bench_scoring(n_score, 10_000, 64, 10, 512, threads, rounds=2 if args.quick else 4)
        bound = rates["matmul bound"]
        print(f"  threads={threads}:")
        for name, rate in rates.items():
            print(f"    {name:<20} {rate:>10,.0f} users/s  ({rate / bound:6.1%} of the bound)")


if __name__ == "__main__":
    main()
