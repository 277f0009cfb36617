r"""Neural recommenders: MF-dot, DSSM (simple and two-tower) and NeuMF, in PyTorch.

Thin policies over :mod:`recarena.models.neural` (architectures, loss, training budget,
checkpoints). All four are trained with the same loss (sampled softmax over shared uniform
negatives), the same negatives and the same budget (epochs, early stopping on a time split),
so ``mf_dot`` is the baseline the others are reported against (Rendle et al. 2020).

* ``mf_dot`` — :math:`s_{ui} = p_u\cdot q_i + b_i`;
* ``dssm`` — id embeddings through MLP towers, cosine / temperature;
* ``dssm_two_tower`` — user tower over the observable features and the consumed items
  (read from the *current* interactions, so a user is personalised from the first click and
  a brand-new user from the features alone), item tower over id, category, price bin and
  description tokens (new items are scored from their content);
* ``neumf`` — GMF + MLP (He et al. 2017).

The dot-product models rank through the shared
:class:`~recarena.policies.recommenders.base.FactorRecommender` path (one matrix product per block
of users, then :func:`~recarena.numerics.topk.blockwise_top_k`); NeuMF is not an
inner product, so it scores blocks of users against the catalogue with its network (in
chunks that bound the memory of the MLP's (users × items × hidden) activations) and then
uses the same top-k.

Refits: ``refit: full`` trains from scratch at each scheduled fit (seeded from the policy's
stream, so equal histories give equal models); ``refit: warm`` continues from the previous
weights for ``warm_iterations`` epochs over the interactions since the last fit and
``warm_replay`` older ones per new one (NeuMF 0.5, the others 1), in steps of
``warm_batch_size`` pairs (the two-tower 8192, NeuMF 512, MF-dot 1024, DSSM 2048) and
``warm_negatives`` shared negatives (new users get fresh embedding rows; the sparse
embedding tables update only the rows a batch touched, and the log's training pairs are kept
from fit to fit so that each sorts only the newer ones (:func:`history_pairs`), so a warm
refit costs what changed),
with a full refit from scratch every ``full_refit_every`` fits: 30 by default, since a refit
from scratch costs in proportion to the whole log, so weekly ones took half of a 30-day run's
time on ``bench/bench_neural.py``'s world for quality gains inside the seeds' noise (but
MF-dot's CTR, ≈ 0.02; see ``bench/README.md``). Continuing that periodic full refit from the
current weights for a few epochs instead was tried and dropped: on the world of
``bench/bench_neural.py`` it lost 0.025–0.03 NDCG@10 against full daily refits on two of
three seeds (from scratch: ≈ 0.01), on the warm-refit test's small world 0.10 (from
scratch: 0.03); a few epochs from the drifted warm weights do not recover what a fresh
start does.

Training runs on ``device`` (``cpu`` by default) with ``torch.set_num_threads(threads)``.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from pydantic import Field

from recarena.contract import History
from recarena.models.neural import (
    Architecture,
    NeuralConfig,
    Optimisers,
    Pairs,
    TrainReport,
    build_model,
    grow_users,
    item_content,
    load_checkpoint,
    save_checkpoint,
    torch_threads,
    train_model,
    user_inputs,
    warm_pairs,
)
from recarena.policies.recommenders.base import (
    FactorRecommender,
    HistoryRecommender,
    WarmStartParams,
    user_feature_matrix,
)
from recarena.policies.registry import register
from recarena.typing import Float32Array, IntArray

__all__ = [
    "DSSMRecommender",
    "MFDotRecommender",
    "NeuMFRecommender",
    "TwoTowerRecommender",
]


#: Activations per NeuMF scoring chunk (users × items × hidden), ≈ 8 MB of float32.
_NEUMF_CHUNK = 1 << 21


class NeuralParams(WarmStartParams):
    """Architecture size and training budget shared by the neural recommenders."""

    factors: int = Field(32, ge=1, le=1024, description="embedding / output dimension d")
    hidden: int = Field(64, ge=2, le=4096, description="width of the hidden MLP layers")
    epochs: int = Field(20, ge=1, le=1000, description="maximum epochs of a full fit")
    batch_size: int = Field(512, ge=1, le=1 << 16, description="positive pairs per step")
    learning_rate: float = Field(0.01, gt=0, le=10, description="Adam step size")
    weight_decay: float = Field(
        1e-3,
        ge=0,
        le=10,
        description="Adam L2 penalty (id embeddings overfit sparse logs without it)",
    )
    negatives: int = Field(64, ge=1, le=100_000, description="shared uniform negatives per batch")
    patience: int = Field(3, ge=1, le=100, description="epochs without validation gain")
    validation_fraction: float = Field(
        0.1, ge=0, lt=1, description="newest share of pairs held out for early stopping"
    )
    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:1, …")
    warm_iterations: int = Field(
        4,
        ge=1,
        le=500,
        description="epochs of a warm refit over the new pairs and the replayed ones",
    )
    warm_replay: float = Field(
        1.0,
        ge=0,
        le=100,
        description="older pairs replayed per new pair in a warm refit (against forgetting)",
    )
    warm_batch_size: int = Field(
        2048,
        ge=1,
        le=1 << 16,
        description="positive pairs per step of a warm refit (a step's fixed cost dominates "
        "on a day's pairs, so fewer, larger steps; MF-dot 1024, two-tower 8192, NeuMF 512)",
    )
    warm_negatives: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="shared negatives per step of a warm refit (None: negatives; NeuMF 16)",
    )
    full_refit_every: int = Field(
        30,
        ge=1,
        le=10_000,
        description="every n-th scheduled fit is a full refit from scratch (its cost grows "
        "with the log: weekly ones took half of a 30-day run of daily refits)",
    )


class _NeuralMixin(HistoryRecommender):
    """Fitting, warm starts and checkpoints shared by every neural recommender."""

    architecture: ClassVar[Architecture]
    params: NeuralParams

    def _reset_model(self) -> None:
        super()._reset_model()
        self.module_: Any = None
        self.optimisers_: Optimisers | None = None  # kept for warm refits
        self.report_ = TrainReport()
        self.user_known_ = np.zeros(0, dtype=bool)
        # The log's pairs at the last fit, (t, pairs): the next fit sorts only what is newer.
        self._pairs: tuple[float, Pairs] | None = None
        self._content = (
            item_content(
                self.spec_.item_category, self.spec_.item_price, self.spec_.item_text,
                self.spec_.n_categories,
            )
            if self.architecture == "two_tower"
            else None
        )  # fmt: skip

    def _config(self) -> NeuralConfig:
        p = self.params
        return NeuralConfig(
            architecture=self.architecture,
            factors=p.factors,
            hidden=p.hidden,
            epochs=p.epochs,
            batch_size=p.batch_size,
            learning_rate=p.learning_rate,
            weight_decay=p.weight_decay,
            negatives=p.negatives,
            patience=p.patience,
            validation_fraction=p.validation_fraction,
            device=p.device,
        )

    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        import torch

        p = self.params
        since = self._last_fit[0] if self._last_fit is not None else -np.inf
        plan = self.refit_plan(matrix, p.refit == "warm", p.full_refit_every)
        if plan == "unchanged":
            return
        pairs = history_pairs(history, self._pairs)
        self._pairs = (history.t, pairs)
        candidates = np.flatnonzero(self.spec_.item_release_time <= history.t).astype(np.int64)
        cfg = self._config()
        generator = torch.Generator(device=cfg.device)
        generator.manual_seed(self.seed_ + self._fits_since_full)
        n_users = matrix.shape[0]
        inputs = None
        if self.architecture == "two_tower":
            features = user_feature_matrix(history, n_users, self.spec_.n_features)
            inputs = user_inputs(features, matrix)
        with torch_threads(p.threads):
            epochs = None
            if plan == "full" or self.module_ is None or self.optimisers_ is None:
                self.module_ = build_model(
                    cfg, n_users, self.spec_.n_items, generator, self.spec_.n_features,
                    self._content,
                )  # fmt: skip
                self.optimisers_ = Optimisers(self.module_, cfg)
            else:  # warm: the new pairs and a replay sample, a fixed budget, no hold-out
                grow_users(self.module_, n_users, generator)
                pairs = warm_pairs(pairs, since, p.warm_replay, generator)
                cfg = _with(
                    cfg, validation_fraction=0.0, batch_size=p.warm_batch_size,
                    negatives=p.warm_negatives or p.negatives,
                )  # fmt: skip
                epochs = p.warm_iterations
            if self.architecture == "two_tower":
                self.module_.known.copy_(torch.as_tensor(self._warm_items(matrix)))
            self.report_ = train_model(
                self.module_, pairs, cfg, generator, candidates, inputs, epochs, self.optimisers_
            )
            if p.refit != "warm":  # only a warm refit continues with the moment estimates
                self.optimisers_ = None
            self.user_known_ = np.diff(matrix.indptr) >= p.min_user_interactions
            self._export(self._warm_items(matrix))

    @staticmethod
    def _warm_items(matrix: sp.csr_array) -> NDArray[np.bool_]:
        return np.asarray(np.diff(sp.csc_array(matrix).indptr) > 0)

    def _export(self, warm_items: NDArray[np.bool_]) -> None:
        """Cache what scoring reads (item vectors / embeddings) from the trained module."""

    def _personalisable(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> NDArray[np.bool_]:
        n = self.user_known_.size
        return (users < n) & self.user_known_[np.minimum(users, max(n - 1, 0))]

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: str | Path) -> None:
        """Save the trained network and what scoring needs (see :meth:`load_checkpoint`)."""
        import torch

        if self.module_ is None:
            raise ValueError(f"policy {self.kind!r} has no trained model to save")
        meta = {
            "kind": self.kind,
            "n_users": int(self.user_known_.size),
            "user_known": torch.as_tensor(self.user_known_),
            "item_scorable": torch.as_tensor(self._scorable_items()),
        }
        save_checkpoint(self.module_, path, meta)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a network saved by :meth:`save_checkpoint` into this set-up policy (same
        kind, parameters and catalogue). The network is the saved one; the interactions a
        two-tower user tower reads stay this policy's own (from its fits and feedback)."""
        import torch

        self._check_set_up()
        state, meta = load_checkpoint(path)
        if meta["kind"] != self.kind:
            raise ValueError(f"checkpoint {path} holds a {meta['kind']!r}, not {self.kind!r}")
        cfg = self._config()
        generator = torch.Generator(device=cfg.device)
        self.module_ = build_model(
            cfg, int(meta["n_users"]), self.spec_.n_items, generator, self.spec_.n_features,
            self._content,
        )  # fmt: skip
        self.module_.load_state_dict(state)
        self.module_.eval()
        self.optimisers_ = None  # not saved: the next fit is a full one
        self.user_known_ = meta["user_known"].numpy().astype(bool)
        self._export(meta["item_scorable"].numpy().astype(bool))
        self.fitted_ = True

    @abstractmethod
    def _scorable_items(self) -> NDArray[np.bool_]:
        """Which items the fitted model can score (the rest get the popularity fallback)."""


class _DotNeural(_NeuralMixin, FactorRecommender):
    """A neural model whose score is an inner product of a user and an item vector."""

    def _reset_model(self) -> None:
        super()._reset_model()
        self.user_vectors_ = np.zeros((0, 0), dtype=np.float32)

    def _export(self, warm_items: NDArray[np.bool_]) -> None:
        import torch

        module, dev = self.module_, self.params.device
        with torch.no_grad():
            items = torch.arange(self.spec_.n_items, device=dev)
            self.item_vectors_ = module.encode_items(items).cpu().numpy().astype(np.float32)
            if self.architecture != "two_tower":
                users = torch.arange(self.user_known_.size, device=dev)
                self.user_vectors_ = module.encode_users(users, None).cpu().numpy()
        self.item_scorable_ = (
            np.ones(self.spec_.n_items, dtype=bool)
            if self.architecture == "two_tower"
            else warm_items
        )
        self._cache_items = np.zeros(0, dtype=np.int64)

    def _scorable_items(self) -> NDArray[np.bool_]:
        return self.item_scorable_

    def _user_vectors(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> Float32Array:
        return self.user_vectors_[users]


@register
class MFDotRecommender(_DotNeural):
    """MF-dot baseline: id embeddings, trained exactly like the neural models."""

    class Params(NeuralParams):
        kind: Literal["mf_dot"] = "mf_dot"
        # Measured on bench/bench_neural.py's world (3 seeds): 2048 pairs a step kept warm
        # refits 0.016 CTR below full daily refits on every seed; 1024 within 0.009.
        warm_batch_size: int = Field(
            1024, ge=1, le=1 << 16, description="positive pairs per step of a warm refit"
        )

    summary = "MF-dot baseline (p_u·q_i + b_i) trained like the neural models (PyTorch)."
    architecture = "mf_dot"

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs(
            {"factors": 8, "epochs": 3, "refit": "warm", "full_refit_every": 3},
            {"factors": 8, "epochs": 2, "validation_fraction": 0.0, "batch_size": 64},
        )

    params: Params


@register
class DSSMRecommender(_DotNeural):
    """DSSM with id inputs: user and item id embeddings through MLP towers, cosine score."""

    class Params(NeuralParams):
        kind: Literal["dssm"] = "dssm"
        temperature: float = Field(
            0.1, ge=1e-4, le=100, description="τ: cosine scores are divided by τ"
        )

    summary = "DSSM (simple): id embeddings through MLP towers, cosine/τ (PyTorch)."
    architecture = "dssm"

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs(
            {"factors": 8, "hidden": 16, "epochs": 2, "refit": "warm"},
        )

    params: Params

    def _config(self) -> NeuralConfig:
        return _with(super()._config(), temperature=self.params.temperature)


@register
class TwoTowerRecommender(_DotNeural):
    """Two-tower DSSM: user tower (features + consumed items), item tower (id + content)."""

    class Params(NeuralParams):
        kind: Literal["dssm_two_tower"] = "dssm_two_tower"
        temperature: float = Field(
            0.1, ge=1e-4, le=100, description="τ: cosine scores are divided by τ"
        )
        id_dropout: float = Field(
            0.2, ge=0, le=1, description="share of training items whose id embedding is hidden"
        )
        # A step encodes each distinct item of its batch once, and a larger batch holds few
        # more distinct items, so larger steps cost less per pair. Measured on
        # bench/bench_neural.py's 30-day world (5 seeds): 2048 pairs a step fitted for 34% of
        # the run, 4096 for 30%, 8192 (a day's pairs in one or two steps) for 27%, each within
        # 0.008 of full daily refits' CTR.
        warm_batch_size: int = Field(
            8192, ge=1, le=1 << 16, description="positive pairs per step of a warm refit"
        )

    summary = "Two-tower DSSM over user features + history and item content (cold-start)."
    architecture = "two_tower"
    contextual = True
    scores_current = True
    contract_options = ({"factors": 8, "hidden": 16, "epochs": 2, "refit": "warm"},)
    params: Params

    def _config(self) -> NeuralConfig:
        p = self.params
        return _with(super()._config(), temperature=p.temperature, id_dropout=p.id_dropout)

    def _personalisable(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> NDArray[np.bool_]:
        return np.full(users.size, self.module_ is not None)

    def _user_vectors(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> Float32Array:
        import torch

        inputs = user_inputs(features, rows)
        ids = torch.arange(users.size, device=self.params.device)
        with torch.no_grad():
            return self.module_.encode_users(ids, inputs).cpu().numpy().astype(np.float32)


@register
class NeuMFRecommender(_NeuralMixin, HistoryRecommender):
    """NeuMF: GMF + MLP over id embeddings (He et al. 2017)."""

    class Params(NeuralParams):
        kind: Literal["neumf"] = "neumf"
        # NeuMF's MLP runs on every (pair, negative) cell, so its step costs batch ×
        # negatives whatever the batch: fewer negatives, not larger batches, make its warm
        # refits cheap (measured in bench/README.md, "Refits that scale with what changed").
        warm_batch_size: int = Field(
            512, ge=1, le=1 << 16, description="positive pairs per step of a warm refit"
        )
        warm_negatives: int | None = Field(
            16,
            ge=1,
            le=100_000,
            description="shared negatives per step of a warm refit (None: negatives); the "
            "MLP runs on every pair × negative, so they set a warm step's cost",
        )
        # Its step's cost is arithmetic (the MLP on every pair × negative), so fewer pairs, not
        # larger steps: half an older pair per new one fitted for 29% of a 30-day run of
        # bench/bench_neural.py's world (5 seeds) instead of 33%, inside the seeds' noise.
        warm_replay: float = Field(
            0.5,
            ge=0,
            le=100,
            description="older pairs replayed per new pair in a warm refit (against "
            "forgetting; the other models 1)",
        )

    summary = "NeuMF (GMF + MLP, He et al. 2017) over id embeddings (PyTorch)."
    architecture = "neumf"
    contract_options = ({"factors": 8, "hidden": 16, "epochs": 2, "refit": "warm"},)
    params: Params

    def _reset_model(self) -> None:
        super()._reset_model()
        self.item_scorable_ = np.zeros(self.spec_.n_items, dtype=bool)

    def _export(self, warm_items: NDArray[np.bool_]) -> None:
        self.item_scorable_ = warm_items

    def _scorable_items(self) -> NDArray[np.bool_]:
        return self.item_scorable_

    def _score_items(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array, items: IntArray
    ) -> Float32Array:
        import torch

        module, dev = self.module_, self.params.device
        out = np.empty((items.size, users.size), dtype=np.float32)
        step = max(1, _NEUMF_CHUNK // max(items.size * self.params.hidden, 1))
        with torch.no_grad(), torch_threads(self.params.threads):
            v = module.encode_items(torch.as_tensor(items, device=dev))
            for lo in range(0, users.size, step):
                u = module.encode_users(torch.as_tensor(users[lo : lo + step], device=dev), None)
                out[:, lo : lo + step] = module.cross(u, v).T.cpu().numpy()
        out[~self.item_scorable_[items]] = -np.inf
        return out


def history_pairs(history: History, previous: tuple[float, Pairs] | None = None) -> Pairs:
    """The clicks and purchases of ``history`` as training pairs, in the order of
    :func:`~recarena.policies.recommenders.base.interaction_frame` (time, user, item).

    The same pairs without the frame: building and sorting a pandas frame of the whole log
    cost ≈ 4 ms a fit, a fifth of an MF-dot warm refit on a 2,000-user world; arrays and one
    :func:`numpy.lexsort` cost a sixth of that.

    Parameters
    ----------
    history
        The log to read.
    previous
        ``(t, pairs)``: the result of an earlier call on this log as it was at time ``t``
        (the previous fit's). If ``history`` still holds exactly ``pairs.size`` interactions
        at or before ``t`` (the log grew by appending), only the later ones are sorted and
        appended to ``pairs`` — the same result, since every one of them comes after ``t`` —
        so a daily refit sorts a day, not the whole log (sorting the whole log took 21 ms of
        a 0.23 s two-tower warm refit on day 29 of ``bench/bench_neural.py``'s world, and
        grows with the log; 1.5 ms this way). Otherwise (the log changed otherwise than by
        appending) every pair is sorted, as without ``previous``.
    """
    parts = [frame for frame in (history.clicks, history.conversions) if len(frame)]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Pairs(empty, empty, np.zeros(0))
    t, users, items = (
        np.concatenate([frame[column].to_numpy(dtype) for frame in parts])
        for column, dtype in (("t", np.float64), ("user", np.int64), ("item", np.int64))
    )
    head = None
    if previous is not None:
        later = t > previous[0]
        if t.size - np.count_nonzero(later) == previous[1].size:
            head = previous[1]
            t, users, items = t[later], users[later], items[later]
    order = np.lexsort((items, users, t))
    tail = Pairs(users[order], items[order], t[order])
    if head is None:
        return tail
    return Pairs(
        np.concatenate([head.users, tail.users]),
        np.concatenate([head.items, tail.items]),
        np.concatenate([head.t, tail.t]),
    )


def _with(cfg: NeuralConfig, **changes: Any) -> NeuralConfig:
    from dataclasses import replace

    return replace(cfg, **changes)
