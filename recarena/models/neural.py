r"""Neural retrieval models in PyTorch: MF-dot, DSSM (simple and two-tower) and NeuMF.

Every model maps a user and an item to a score :math:`s_{ui}` and is trained the same way,
so that the comparison between them is about the architecture, not the training budget
(Rendle, Krichene, Zhang & Anderson 2020, "Neural collaborative filtering vs. matrix
factorization revisited", found a tuned dot product matching or beating NeuMF):

Loss — sampled softmax with shared uniform negatives
    For a batch of observed (user, item) pairs :math:`(u_b, i_b)` and :math:`M` items
    :math:`j_1..j_M` drawn uniformly from the catalogue on sale (shared by the batch),

    .. math:: \mathcal{L} = -\frac{1}{B}\sum_b \log
              \frac{e^{s_{u_b i_b}}}{e^{s_{u_b i_b}} + \sum_{m:\, j_m \ne i_b} e^{s_{u_b j_m}}}

    (Bengio & Senécal 2008; Jean et al. 2015). A negative that happens to equal the
    positive is masked. Uniform sampling needs no log-Q correction (it is a constant).

Budget — epochs with early stopping on a time split
    Pairs after the ``1 - validation_fraction`` time quantile are held out; training stops
    when their loss (with negatives fixed once, so epochs are comparable) has not improved
    for ``patience`` epochs, and the best epoch's weights are kept. A final pass over the
    held-out (newest) pairs then brings the model up to date: in a recommender, the latest
    interactions are the most predictive, so they must not stay unseen.

Optimiser — sparse rows, dense layers
    The user, item and token embedding tables are sparse (``nn.Embedding(sparse=True)``)
    and trained with a row-wise Adam
    (:class:`~recarena.models.neural_modules.RowAdam`, the update of
    :class:`torch.optim.SparseAdam` at a fraction of its cost); the MLP layers, the small
    tables and the two-tower history bag (a batch's histories cover much of the catalogue)
    with :class:`torch.optim.Adam` (fused, :class:`Optimisers`). A step then costs what its
    batch touched instead of the table size (a dense Adam step over a 20k-user MF-dot table
    took ≈ 4 ms of a ≈ 5.5 ms step), and the L2 penalty ``weight_decay`` is applied to the
    touched rows only.

Warm refits — train on what changed
    :func:`warm_pairs` keeps the pairs since the previous fit plus ``replay`` older pairs
    per new one, sampled uniformly (experience replay against forgetting); a warm refit
    trains a fixed number of epochs on them from the previous weights and the previous
    fit's optimiser state (no hold-out; the policies use larger batches, and NeuMF fewer
    negatives, than in a full fit: a step's cost is mostly fixed), and :func:`grow_users`
    gives users who arrived since fresh rows drawn as at initialisation. Rows of users
    without new pairs (and not replayed) are left bit for bit as they were.

Models (``d`` = ``factors``)
    * :class:`MFDot` — :math:`s_{ui} = p_u \cdot q_i + b_i` (id embeddings; :math:`b_i` is
      the last column of the item table).
    * :class:`DSSMSimple` — DSSM with id inputs (Huang et al. 2013): user and item id
      embeddings, each through its own MLP tower, :math:`s_{ui} = \cos(f(e_u), g(e_i))/\tau`.
    * :class:`TwoTowerDSSM` — the user tower reads the observable user features and the
      mean embedding of the items in the user's history (the training target excluded); the
      item tower reads an id embedding (zero for items unseen at the fit; dropped with
      probability ``id_dropout`` in training so the content path learns on its own), the
      category, a log-price bin and the mean embedding of the description tokens
      (Covington, Adams & Sargin 2016; Yi et al. 2019). New users and new items are served
      through the towers. A training step encodes each distinct item of its batch once (the
      item tower was the costly half of a step, and a day's clicks repeat popular items), so
      an item's id is dropped for all of its pairs in a step or for none, and sums each
      distinct user's history once (a day's clicks repeat active users too).
    * :class:`NeuMF` — GMF + MLP (He et al. 2017):
      :math:`s_{ui} = h_g^\top (p^g_u \odot q^g_i) + h_m^\top \mathrm{MLP}([p^m_u; q^m_i])`.
      Not an inner product, so its all-pairs scores are computed with the first MLP layer
      split into a user and an item half: :math:`W[p;q] = W_u p + W_i q`.

Determinism
    Parameters are created on the ``meta`` device and initialised from a
    :class:`torch.Generator` (no global RNG); batches and negatives come from the same
    generator. With a fixed thread count, CPU training is bit-for-bit reproducible.

Threads
    :func:`torch_threads` sets ``torch.set_num_threads`` for the duration of a block and
    restores it; policies also hold ``threadpoolctl`` limits around it, so torch's OpenMP
    pool and OpenBLAS (``implicit``) never run more threads than the cores asked for
    (``bench/bench_neural.py`` measures the oversubscription this avoids).

torch is imported lazily (inside functions), so importing this module stays cheap; module
classes are built on first use by :func:`model_classes`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from recarena.typing import Float32Array, FloatArray, IntArray

__all__ = [
    "Architecture",
    "CsrRows",
    "ItemContent",
    "NeuralConfig",
    "Optimisers",
    "Pairs",
    "TrainReport",
    "build_model",
    "grow_users",
    "item_content",
    "load_checkpoint",
    "model_classes",
    "save_checkpoint",
    "torch_threads",
    "train_model",
    "user_inputs",
    "warm_pairs",
]


Architecture = Literal["mf_dot", "dssm", "two_tower", "neumf"]


# ------------------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class NeuralConfig:
    """Architecture and training budget shared by every model here."""

    architecture: Architecture
    factors: int = 32
    hidden: int = 64
    epochs: int = 10
    batch_size: int = 512
    learning_rate: float = 0.01
    weight_decay: float = 0.0
    negatives: int = 64
    patience: int = 2
    validation_fraction: float = 0.1
    temperature: float = 0.1
    id_dropout: float = 0.2
    device: str = "cpu"


@dataclass(frozen=True)
class Pairs:
    """Observed (user, item) interactions in time order."""

    users: IntArray
    items: IntArray
    t: FloatArray

    @property
    def size(self) -> int:
        return int(self.users.size)


@dataclass(frozen=True)
class ItemContent:
    """Public item attributes as model inputs: category, log-price bin, description tokens."""

    category: IntArray
    price_bin: IntArray
    tokens: sp.csr_array  # (n_items, vocabulary) binary
    n_categories: int
    n_price_bins: int


@dataclass
class UserInputs:
    """What the user tower reads: encoded features (n_users, F) and consumed items (CSR)."""

    features: Float32Array
    history: sp.csr_array
    _tensors: dict[str, Any] = field(default_factory=dict, repr=False)

    def tensors(self, device: str) -> tuple[Any, CsrRows]:
        """The features and the history as tensors on ``device``, converted on first use:
        a fit reads them in every step, so they are converted once per fit, not per step."""
        import torch

        if device not in self._tensors:
            self._tensors[device] = (
                torch.as_tensor(self.features, device=device),
                CsrRows.of(self.history, device),
            )
        return self._tensors[device]


@dataclass(frozen=True)
class CsrRows:
    """A binary CSR matrix as torch tensors, for :class:`torch.nn.EmbeddingBag` inputs of
    its rows (a gather in torch: scipy's row indexing cost more than the rest of a small
    training step)."""

    indptr: Any
    indices: Any

    @classmethod
    def of(cls, matrix: sp.csr_array, device: str) -> CsrRows:
        import torch

        return cls(
            torch.as_tensor(matrix.indptr.astype(np.int64), device=device),
            torch.as_tensor(matrix.indices.astype(np.int64), device=device),
        )

    def bag(self, ids: Any) -> tuple[Any, Any, Any]:
        """(indices, offsets, counts) of rows ``ids`` (a tensor), in the order given."""
        import torch

        start = self.indptr.index_select(0, ids)
        length = self.indptr.index_select(0, ids + 1) - start
        offsets = torch.cumsum(length, 0) - length
        total = int(length.sum())
        # Position k of row r's run is start[r] + k; as one gather over every run at once.
        shift = torch.repeat_interleave(start - offsets, length, output_size=total)
        positions = shift + torch.arange(total, device=ids.device)
        return self.indices.index_select(0, positions), offsets, length.to(torch.float32)


def item_content(
    category: IntArray,
    price: FloatArray,
    text: tuple[str, ...],
    n_categories: int,
    price_bins: int = 8,
) -> ItemContent:
    """Item tower inputs from the catalogue (log-price quantile bins over the catalogue)."""
    from sklearn.feature_extraction.text import CountVectorizer

    log_price = np.log(price)
    edges = np.quantile(log_price, np.linspace(0, 1, price_bins + 1)[1:-1])
    tokens = CountVectorizer(binary=True, dtype=np.float32).fit_transform(text)
    return ItemContent(
        category=np.asarray(category, np.int64),
        price_bin=np.searchsorted(edges, log_price).astype(np.int64),
        tokens=sp.csr_array(tokens),
        n_categories=max(int(n_categories), 1),
        n_price_bins=price_bins,
    )


def user_inputs(features: Float32Array, history: sp.csr_array) -> UserInputs:
    """Binary consumed-item matrix and float32 features for the user tower."""
    consumed = sp.csr_array(history > 0, dtype=np.float32)
    return UserInputs(np.ascontiguousarray(features, dtype=np.float32), consumed)


@dataclass
class TrainReport:
    """What a training run did: epochs, best validation loss, examples/s, seconds."""

    epochs: int = 0
    best_epoch: int = -1
    validation_loss: float = float("nan")
    examples: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else float("nan")


# ------------------------------------------------------------------------------ threads
@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``, restoring the previous count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------------------ modules
def model_classes() -> dict[str, type]:
    """The torch module classes by architecture (imports ``torch`` on first use)."""
    from recarena.models import neural_modules as m

    return {"mf_dot": m.MFDot, "dssm": m.DSSMSimple, "two_tower": m.TwoTowerDSSM, "neumf": m.NeuMF}


def _initialise(module: Any, generator: Any) -> None:
    """Initialise every parameter from ``generator`` (embeddings N(0, 0.1²)/√d-scaled,
    Linear weights uniform ±1/√fan_in as torch's default, biases and item biases zero)."""
    import torch

    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif p.dim() == 2 and "weight" in name and not _is_embedding(module, name):
                bound = 1.0 / np.sqrt(p.shape[1])
                p.uniform_(-bound, bound, generator=generator)
            else:
                p.normal_(0.0, 0.1, generator=generator)
        module.initialised()


def _is_embedding(module: Any, name: str) -> bool:
    from torch import nn

    owner = module.get_submodule(name.rsplit(".", 1)[0])
    return isinstance(owner, nn.Embedding | nn.EmbeddingBag)


def build_model(
    cfg: NeuralConfig,
    n_users: int,
    n_items: int,
    generator: Any,
    n_features: int = 0,
    content: ItemContent | None = None,
) -> Any:
    """A freshly initialised model for ``cfg.architecture`` on ``cfg.device``.

    Parameters are allocated on the ``meta`` device first, so building never draws from
    torch's global generator; then they are materialised and initialised from ``generator``.
    """
    import torch

    cls = model_classes()[cfg.architecture]
    extra: tuple[Any, ...] = ()
    if cfg.architecture == "two_tower":
        if content is None:
            raise ValueError("the two-tower model needs the item content")
        extra = (n_features, content)
    with torch.device("meta"):
        module = cls(n_users, n_items, cfg, *extra)
    module = module.to_empty(device=cfg.device)
    if cfg.architecture == "two_tower":
        module.known.zero_()
        module.attach_content(content, cfg.device)
    _initialise(module, generator)
    return module


def grow_users(module: Any, n_users: int, generator: Any) -> None:
    """Extend the user id embedding of an id model to ``n_users`` rows (warm starts): old
    rows are kept, new rows drawn as at initialisation. The parameter object stays the same
    (its data grows), so an optimiser that holds it keeps its state for the old rows. Two-tower
    models have no user ids."""
    import torch
    from torch import nn

    old = getattr(module, "user", None)
    if not isinstance(old, nn.Embedding) or old.num_embeddings >= n_users:
        return
    weight = torch.empty((n_users, old.embedding_dim), device=old.weight.device)
    with torch.no_grad():
        weight.normal_(0.0, 0.1, generator=generator)
        weight[: old.num_embeddings] = old.weight
    old.weight.data = weight
    old.num_embeddings = n_users


# ------------------------------------------------------------------------------ training
class Optimisers:
    r"""Adam for the dense layers, row-wise Adam for the sparse id/token tables.

    A sparse table's gradient holds only the rows the batch used, and
    :class:`~recarena.models.neural_modules.RowAdam` updates only those rows (with their own
    moment estimates, as :class:`torch.optim.SparseAdam`), so a step costs what the batch
    touched. The L2 term :math:`\lambda\theta` that Adam adds to the gradient of every
    parameter is added to the touched rows only ("lazy" L2): a row nothing in the batch used
    is left exactly as it was.

    A warm refit continues with the optimisers of the previous fit: a fresh Adam's first
    steps move every touched coordinate by about the learning rate whatever its gradient,
    which shakes a converged model, while the kept moment estimates scale the steps of
    well-fitted rows down. Rows added since (:func:`grow_users`) start with zero moments.
    """

    def __init__(self, module: Any, cfg: NeuralConfig) -> None:
        import torch

        sparse_ids = {
            id(m.weight)
            for m in module.modules()
            if isinstance(m, torch.nn.Embedding | torch.nn.EmbeddingBag) and m.sparse
        }
        params = list(module.parameters())
        sparse = [p for p in params if id(p) in sparse_ids]
        dense = [p for p in params if id(p) not in sparse_ids]
        self.optimisers: list[Any] = []
        if dense:  # MF-dot has none
            self.optimisers.append(
                # Fused: one kernel over every dense tensor instead of a Python loop over
                # them (≈ 12% of a two-tower step).
                torch.optim.Adam(
                    dense, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, fused=True
                )
            )
        if sparse:
            from recarena.models.neural_modules import RowAdam

            self.optimisers.append(
                RowAdam(sparse, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
            )

    def grow(self) -> None:
        """Pad the moment estimates of tables that grew (:func:`grow_users`) with zeros."""
        import torch

        for optimiser in self.optimisers:
            for p, state in optimiser.state.items():
                for key in ("exp_avg", "exp_avg_sq"):
                    moment = state.get(key)
                    if moment is not None and moment.shape[0] < p.shape[0]:
                        pad = torch.zeros(
                            (p.shape[0] - moment.shape[0], *moment.shape[1:]),
                            dtype=moment.dtype, device=moment.device,
                        )  # fmt: skip
                        state[key] = torch.cat([moment, pad])

    def step(self, loss: Any) -> None:
        """Back-propagate ``loss`` and take one step of every optimiser."""
        for optimiser in self.optimisers:
            optimiser.zero_grad()
        loss.backward()
        for optimiser in self.optimisers:
            optimiser.step()


def warm_pairs(pairs: Pairs, since: float, replay: float, generator: Any) -> Pairs:
    """The pairs a warm refit trains on: those after ``since`` (the previous fit), and a
    uniform sample without replacement of ``replay`` older pairs per new one, so the
    model keeps rehearsing what it learned before (against catastrophic forgetting;
    experience replay, Lin 1992), in time order."""
    import torch

    new = pairs.t > since
    n_old = int(np.count_nonzero(~new))
    n_replay = min(round(replay * int(np.count_nonzero(new))), n_old)
    keep = new.copy()
    if n_replay:
        order = torch.randperm(n_old, generator=generator, device=generator.device)
        keep[np.flatnonzero(~new)[order[:n_replay].cpu().numpy()]] = True
    return Pairs(pairs.users[keep], pairs.items[keep], pairs.t[keep])


def _batch_loss(
    module: Any, users: Any, items: Any, negatives: Any, inputs: Any, g: Any, training: bool
) -> Any:
    """Sampled-softmax loss of a batch (positive first, shared negatives, hits masked)."""
    import torch

    u = module.encode_users(users, inputs, exclude=items if inputs is not None else None)
    if module.shared_items:
        # Encode each distinct item of the batch once (a day's positives repeat popular
        # items, and the item tower is the costly part of a step), then gather.
        distinct, inverse = torch.unique(torch.cat([items, negatives]), return_inverse=True)
        v = module.encode_items(distinct, training=training, g=g).index_select(0, inverse)
        v_pos, v_neg = v[: items.shape[0]], v[items.shape[0] :]
    else:
        v_pos = module.encode_items(items, training=training, g=g)
        v_neg = module.encode_items(negatives, training=training, g=g)
    pos = module.matched(u, v_pos)[:, None]
    neg = module.cross(u, v_neg)
    neg = neg.masked_fill(items[:, None] == negatives[None, :], float("-inf"))
    logits = torch.cat([pos, neg], dim=1)
    target = torch.zeros(users.shape[0], dtype=torch.int64, device=logits.device)
    return torch.nn.functional.cross_entropy(logits, target)


def train_model(
    module: Any,
    pairs: Pairs,
    cfg: NeuralConfig,
    generator: Any,
    candidates: IntArray,
    inputs: UserInputs | None = None,
    epochs: int | None = None,
    optimisers: Optimisers | None = None,
) -> TrainReport:
    """Train ``module`` in place with sampled softmax and early stopping (module docstring).

    Parameters
    ----------
    module
        From :func:`build_model` (or a previous fit, for a warm start).
    pairs
        Training interactions in time order.
    cfg
        Budget and optimiser settings.
    generator
        ``torch.Generator`` for shuffling, negatives and id dropout.
    candidates
        Item ids negatives are drawn from (the catalogue on sale at the fit).
    inputs
        User-tower inputs (two-tower only).
    epochs
        Override ``cfg.epochs`` (warm starts train fewer).
    optimisers
        Continue with these (a warm start: the previous fit's, see :class:`Optimisers`);
        new ones by default.
    """
    import torch

    report = TrainReport()
    if pairs.size == 0 or candidates.size == 0:
        return report
    dev = cfg.device
    users = torch.tensor(pairs.users, device=dev)
    items = torch.tensor(pairs.items, device=dev)
    pool = torch.as_tensor(candidates, device=dev)
    n_val = int(pairs.size * cfg.validation_fraction)
    n_val = n_val if n_val >= 16 and pairs.size - n_val >= 16 else 0
    n_train = pairs.size - n_val
    optimiser = optimisers if optimisers is not None else Optimisers(module, cfg)
    optimiser.grow()
    # Validation negatives are drawn once so every epoch is judged on the same problem.
    val_negatives = pool[torch.randint(0, pool.numel(), (cfg.negatives,), generator=generator)]
    best_state: dict[str, Any] | None = None
    bad = 0
    start = time.perf_counter()

    def run_epoch(rows: Any) -> float:
        module.train()
        total = 0.0
        for lo in range(0, rows.numel(), cfg.batch_size):
            batch = rows[lo : lo + cfg.batch_size]
            draw = torch.randint(0, pool.numel(), (cfg.negatives,), generator=generator)
            # index_select, not advanced indexing: the same gather at a fraction of the cost.
            neg = pool.index_select(0, draw)
            batch_users, batch_items = users.index_select(0, batch), items.index_select(0, batch)
            loss = _batch_loss(module, batch_users, batch_items, neg, inputs, generator, True)
            optimiser.step(loss)
            total += float(loss.detach()) * batch.numel()
            report.examples += int(batch.numel())
        return total / max(rows.numel(), 1)

    for epoch in range(cfg.epochs if epochs is None else epochs):
        perm = torch.randperm(n_train, generator=generator, device=dev)
        report.losses.append(run_epoch(perm))
        report.epochs = epoch + 1
        if not n_val:
            continue
        val_loss = _validation_loss(module, users, items, n_train, val_negatives, inputs, cfg)
        if val_loss < report.validation_loss - 1e-4 or best_state is None:
            report.validation_loss, report.best_epoch, bad = val_loss, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best_state is not None:
        module.load_state_dict(best_state)
        # Catch up on the held-out newest pairs (see the module docstring).
        val_rows = torch.arange(n_train, pairs.size, device=dev)
        run_epoch(val_rows[torch.randperm(n_val, generator=generator, device=dev)])
    module.eval()
    report.seconds = time.perf_counter() - start
    return report


def _validation_loss(
    module: Any,
    users: Any,
    items: Any,
    start: int,
    negatives: Any,
    inputs: UserInputs | None,
    cfg: NeuralConfig,
) -> float:
    import torch

    module.eval()
    total, n = 0.0, users.shape[0] - start
    with torch.no_grad():
        for lo in range(start, users.shape[0], cfg.batch_size):
            hi = min(lo + cfg.batch_size, users.shape[0])
            loss = _batch_loss(module, users[lo:hi], items[lo:hi], negatives, inputs, None, False)
            total += float(loss) * (hi - lo)
    return total / max(n, 1)


# ------------------------------------------------------------------------------ checkpoints
def save_checkpoint(module: Any, path: str | Path, meta: dict[str, Any]) -> None:
    """Save the weights and plain-type ``meta`` (config, sizes) with :func:`torch.save`."""
    import torch

    torch.save({"state": module.state_dict(), "meta": meta}, Path(path))


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(state_dict, meta)`` from :func:`save_checkpoint`, loaded with ``weights_only=True``
    (tensors and plain containers only: a checkpoint cannot run code when loaded)."""
    import torch

    blob = torch.load(Path(path), weights_only=True, map_location="cpu")
    return blob["state"], blob["meta"]
