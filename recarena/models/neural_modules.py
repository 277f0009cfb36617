"""The PyTorch modules of :mod:`recarena.models.neural` (MF-dot, DSSM, two-tower, NeuMF).

Kept apart so that ``torch`` is imported only when a neural model is built (through
:func:`recarena.models.neural.model_classes`), while the classes stay importable by name,
so fitted policies pickle. The architectures and the loss are documented in
:mod:`recarena.models.neural`.

The id and token tables (one row per user, item or token) are ``sparse``: a step's gradient
holds only the rows its batch used, so an optimiser step costs what the batch touched, not
the table size (:func:`recarena.models.neural.train_model` pairs them with ``SparseAdam``).
The small tables (category, price bin) and the MLP layers stay dense.
"""

from __future__ import annotations

import itertools
from typing import Any, cast

import torch
from torch import nn

from recarena.models.neural import ItemContent, NeuralConfig, _csr_bag

__all__ = ["DSSMSimple", "MFDot", "NeuMF", "PairModel", "TwoTowerDSSM"]


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class PairModel(nn.Module):
    """Base: ``encode_users`` / ``encode_items`` then ``cross`` (B, C) or ``matched`` (B,)."""

    dot: bool = True

    def cross(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return u @ v.T

    def matched(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u * v).sum(dim=1)

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
        self.item = nn.Embedding(n_items, cfg.factors, sparse=True)
        self.bias = nn.Embedding(n_items, 1, sparse=True)

    def encode_users(self, ids: torch.Tensor, inputs: Any, exclude: Any = None) -> Any:
        p = self.user(ids)
        return torch.cat([p, torch.ones_like(p[:, :1])], dim=1)

    def encode_items(self, ids: torch.Tensor, training: bool = False, g: Any = None) -> Any:
        return torch.cat([self.item(ids), self.bias(ids)], dim=1)


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
    def __init__(
        self, n_users: int, n_items: int, cfg: NeuralConfig, n_features: int,
        content: ItemContent,
    ) -> None:  # fmt: skip
        super().__init__()
        d, h = cfg.factors, cfg.hidden
        self.cfg = cfg
        self.content = content
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
        dev = cfg.device
        self._category = torch.as_tensor(content.category, device=dev)
        self._price = torch.as_tensor(content.price_bin, device=dev)

    def encode_users(self, ids: torch.Tensor, inputs: Any, exclude: Any = None) -> Any:
        idx = ids.cpu().numpy()
        dev = self.cfg.device
        feats = torch.as_tensor(inputs.features[idx], device=dev)
        indices, offsets, counts = _csr_bag(inputs.history, idx, dev)
        total = self.history(indices, offsets)
        if exclude is not None:  # leave the training target out of its own history
            total = total - self.history.weight[exclude]
            counts = counts - 1
        mean = total / counts.clamp(min=1.0)[:, None]
        if feats.shape[1] == 0:
            feats = torch.zeros((ids.shape[0], 1), device=dev)
        u = self.user_tower(torch.cat([self.features(feats), mean], dim=1))
        return nn.functional.normalize(u, dim=1) * self.scale

    def encode_items(self, ids: torch.Tensor, training: bool = False, g: Any = None) -> Any:
        dev = self.cfg.device
        known = cast(torch.Tensor, self.known)  # a buffer (see __init__)
        keep = known[ids]
        if training and self.cfg.id_dropout > 0:
            draw = torch.rand(ids.shape[0], generator=g, device=dev)
            keep = keep & (draw >= self.cfg.id_dropout)
        ident = self.item(ids) * keep[:, None].to(torch.float32)
        indices, offsets, _ = _csr_bag(self.content.tokens, ids.cpu().numpy(), dev)
        parts = [
            ident,
            self.category(self._category[ids]),
            self.price(self._price[ids]),
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
