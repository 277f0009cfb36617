"""The PyTorch modules of :mod:`recarena.models.neural` (MF-dot, DSSM, two-tower, NeuMF).

Kept apart so that ``torch`` is imported only when a neural model is built (through
:func:`recarena.models.neural.model_classes`), while the classes stay importable by name,
so fitted policies pickle. The architectures and the loss are documented in
:mod:`recarena.models.neural`.

The id and token tables (one row per user, item or token) are ``sparse``: a step's gradient
holds only the rows its batch used, so an optimiser step costs what the batch touched, not
the table size (:func:`recarena.models.neural.train_model` pairs them with :class:`RowAdam`).
The small tables (category, price bin) and the MLP layers stay dense.
"""

from __future__ import annotations

import itertools
from typing import Any, cast

import torch
from torch import nn

from recarena.models.neural import CsrRows, ItemContent, NeuralConfig

__all__ = ["DSSMSimple", "MFDot", "NeuMF", "PairModel", "RowAdam", "TwoTowerDSSM"]


class RowAdam(torch.optim.Optimizer):
    r"""Adam on the rows a sparse gradient touched, with lazy L2 (the update of
    :class:`torch.optim.SparseAdam`, in a handful of dense row operations).

    For the touched rows :math:`r` of a table with gradient rows :math:`g_r`:
    :math:`g_r \leftarrow g_r + \lambda\theta_r`, then Adam's moment updates and step on
    those rows only (bias correction from the table's step count, as SparseAdam); every
    other row, and its moments, stay exactly as they were. SparseAdam reaches the same update
    through masked sparse tensors, which cost ≈ 1 ms a step on a 2k-row table, as much as the
    rest of an MF-dot step; gathering the rows, updating them and scattering them back does
    not depend on the table's size either and costs a fraction of that.
    """

    def __init__(
        self, params: Any, lr: float, weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
    ) -> None:  # fmt: skip
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        """Update the touched rows of every table that has a (sparse) gradient."""
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.coalesce()  # one value row per touched table row
                rows, g = grad.indices()[0], grad.values()
                if rows.numel() == 0:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                # index_select, not p[rows]: advanced indexing costs several times more.
                weight = p.index_select(0, rows)
                if group["decay"] > 0:
                    g = g.add(weight, alpha=group["decay"])
                exp_avg = state["exp_avg"].index_select(0, rows).lerp_(g, 1 - beta1)
                exp_avg_sq = state["exp_avg_sq"].index_select(0, rows)
                exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                state["exp_avg"].index_copy_(0, rows, exp_avg)
                state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
                step = group["lr"] * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
                weight.addcdiv_(exp_avg, exp_avg_sq.sqrt_().add_(group["eps"]), value=-step)
                p.index_copy_(0, rows, weight)


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class PairModel(nn.Module):
    """Base: ``encode_users`` / ``encode_items`` then ``cross`` (B, C) or ``matched`` (B,)."""

    dot: bool = True
    #: Encode a batch's distinct items once (worth it when the item tower is costly).
    shared_items: bool = False

    def cross(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return u @ v.T

    def matched(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u * v).sum(dim=1)

    def initialised(self) -> None:
        """Set, after the random initialisation (under ``no_grad``), what starts elsewhere."""

    def encode_users(self, ids: torch.Tensor, inputs: Any, exclude: Any = None) -> Any:
        """User representations; each model defines its own tower."""
        raise TypeError(f"{type(self).__name__} defines no user tower (encode_users)")

    def encode_items(self, ids: torch.Tensor, training: bool = False, g: Any = None) -> Any:
        """Item representations; each model defines its own tower."""
        raise TypeError(f"{type(self).__name__} defines no item tower (encode_items)")


class MFDot(PairModel):
    def __init__(self, n_users: int, n_items: int, cfg: NeuralConfig) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, cfg.factors, sparse=True)
        # [q_i | b_i]: the item bias is the table's last column, so a step updates one item
        # table, not two with the same rows (an optimiser update is most of an MF-dot step).
        self.item = nn.Embedding(n_items, cfg.factors + 1, sparse=True)

    def initialised(self) -> None:
        self.item.weight[:, -1] = 0.0  # item biases start at zero

    def encode_users(self, ids: torch.Tensor, inputs: Any, exclude: Any = None) -> Any:
        p = self.user(ids)
        return torch.cat([p, torch.ones_like(p[:, :1])], dim=1)

    def encode_items(self, ids: torch.Tensor, training: bool = False, g: Any = None) -> Any:
        return self.item(ids)


class DSSMSimple(PairModel):
    def __init__(self, n_users: int, n_items: int, cfg: NeuralConfig) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, cfg.factors, sparse=True)
        self.item = nn.Embedding(n_items, cfg.factors, sparse=True)
        self.user_tower = mlp([cfg.factors, cfg.hidden, cfg.factors])
        self.item_tower = mlp([cfg.factors, cfg.hidden, cfg.factors])
        self.scale = 1.0 / cfg.temperature

    def encode_users(self, ids: torch.Tensor, inputs: Any, exclude: Any = None) -> Any:
        u = nn.functional.normalize(self.user_tower(self.user(ids)), dim=1)
        return u * self.scale

    def encode_items(self, ids: torch.Tensor, training: bool = False, g: Any = None) -> Any:
        return nn.functional.normalize(self.item_tower(self.item(ids)), dim=1)


class TwoTowerDSSM(PairModel):
    shared_items = True

    def __init__(
        self, n_users: int, n_items: int, cfg: NeuralConfig, n_features: int,
        content: ItemContent,
    ) -> None:  # fmt: skip
        super().__init__()
        d, h = cfg.factors, cfg.hidden
        self.cfg = cfg
        # Dense: a batch's histories cover a large share of the catalogue, many times over.
        self.history = nn.EmbeddingBag(n_items, d, mode="sum")
        self.features = nn.Linear(max(n_features, 1), d)
        self.user_tower = mlp([2 * d, h, d])
        self.item = nn.Embedding(n_items, d, sparse=True)
        self.category = nn.Embedding(content.n_categories, d)
        self.price = nn.Embedding(content.n_price_bins, d)
        self.tokens = nn.EmbeddingBag(max(content.tokens.shape[1], 1), d, mode="mean", sparse=True)
        self.item_tower = mlp([4 * d, h, d])
        self.scale = 1.0 / cfg.temperature
        self.register_buffer("known", torch.zeros(n_items, dtype=torch.bool))

    def attach_content(self, content: ItemContent, device: str) -> None:
        """Keep the item content as tensors on ``device`` (read by every item encoding;
        built outside the ``meta`` device context the parameters are created in)."""
        self._category = torch.as_tensor(content.category, device=device)
        self._price = torch.as_tensor(content.price_bin, device=device)
        self._tokens = CsrRows.of(content.tokens, device)

    def encode_users(self, ids: torch.Tensor, inputs: Any, exclude: Any = None) -> Any:
        dev = self.cfg.device
        features, history = inputs.tensors(dev)
        feats = features.index_select(0, ids)
        if exclude is None:  # scoring: one row per user already
            indices, offsets, counts = history.bag(ids)
            total = self.history(indices, offsets)
        else:
            # Training: sum each distinct user's history once and gather (a batch repeats
            # its active users, and the bag with its dense backward was the costliest
            # part of a warm step), then leave each pair's target out of its own history.
            distinct, inverse = torch.unique(ids, return_inverse=True)
            indices, offsets, counts = history.bag(distinct)
            total = self.history(indices, offsets).index_select(0, inverse)
            total = total - self.history.weight.index_select(0, exclude)
            counts = counts.index_select(0, inverse) - 1
        mean = total / counts.clamp(min=1.0)[:, None]
        if feats.shape[1] == 0:
            feats = torch.zeros((ids.shape[0], 1), device=dev)
        u = self.user_tower(torch.cat([self.features(feats), mean], dim=1))
        return nn.functional.normalize(u, dim=1) * self.scale

    def encode_items(self, ids: torch.Tensor, training: bool = False, g: Any = None) -> Any:
        dev = self.cfg.device
        known = cast(torch.Tensor, self.known)  # a buffer (see __init__)
        keep = known.index_select(0, ids)
        if training and self.cfg.id_dropout > 0:
            draw = torch.rand(ids.shape[0], generator=g, device=dev)
            keep = keep & (draw >= self.cfg.id_dropout)
        ident = self.item(ids) * keep[:, None].to(torch.float32)
        indices, offsets, _ = self._tokens.bag(ids)
        parts = [
            ident,
            self.category(self._category.index_select(0, ids)),
            self.price(self._price.index_select(0, ids)),
            self.tokens(indices, offsets),
        ]
        return nn.functional.normalize(self.item_tower(torch.cat(parts, dim=1)), dim=1)


class NeuMF(PairModel):
    dot = False

    def __init__(self, n_users: int, n_items: int, cfg: NeuralConfig) -> None:
        super().__init__()
        d, h = cfg.factors, cfg.hidden
        self.d = d
        self.user = nn.Embedding(n_users, 2 * d, sparse=True)  # [GMF | MLP] halves
        self.item = nn.Embedding(n_items, 2 * d, sparse=True)
        self.first_user = nn.Linear(d, h)
        self.first_item = nn.Linear(d, h, bias=False)
        self.rest = nn.Sequential(nn.ReLU(), nn.Linear(h, h // 2), nn.ReLU())
        self.h_gmf = nn.Linear(d, 1, bias=False)
        self.h_mlp = nn.Linear(h // 2, 1, bias=True)

    def encode_users(self, ids: torch.Tensor, inputs: Any, exclude: Any = None) -> Any:
        return self.user(ids)

    def encode_items(self, ids: torch.Tensor, training: bool = False, g: Any = None) -> Any:
        return self.item(ids)

    def cross(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        d = self.d
        gmf = (u[:, :d] * self.h_gmf.weight[0]) @ v[:, :d].T
        a = self.first_user(u[:, d:])[:, None, :] + self.first_item(v[:, d:])[None, :, :]
        return gmf + self.h_mlp(self.rest(a))[..., 0]

    def matched(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        d = self.d
        gmf = self.h_gmf(u[:, :d] * v[:, :d])[:, 0]
        a = self.first_user(u[:, d:]) + self.first_item(v[:, d:])
        return gmf + self.h_mlp(self.rest(a))[:, 0]
