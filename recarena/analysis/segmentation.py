r"""Recovered segments scored against the simulator's latent segments; RFM and profiles.

The latent segment :math:`z_u` of every user is not in the event log; it is read from the
world tables the runner wrote for the seed (:meth:`~recarena.analysis.results.RunDirectory.world`).
Segmentations are recomputed here with :mod:`recarena.models.segmentation` (never with policy
code), on every user who has arrived by the horizon:

``rules``
    Heuristic thresholds (``analysis.segmentation.rules``, each ``{feature, min, max}``;
    default: the sign of the first two numeric features, 4 segments).
``rfm``
    Named RFM segments from the reference arm's purchases at the horizon (recency = days
    since the last purchase; ``rfm_bins`` quantile bins).
``kmeans``
    k-means on standardised features, ``k`` = the world's number of segments unless given,
    ``n_init`` restarts, seeded by the run seed.
``logistic (kmeans)`` / ``logistic (rfm)``
    A multinomial logistic regression trained on a random half of the users with the
    k-means (resp. RFM) labels, scored on the other half — how well new users are assigned
    to learnt segments from their features alone.

Each is scored with the adjusted Rand index and the normalised mutual information against
the latent segments (:func:`recarena.models.segmentation.segment_agreement`); for the two
logistic models also against the labels they were taught (``ari_vs_labels``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recarena.analysis.campaigns import activity_log
from recarena.analysis.options import SegmentationOptions
from recarena.analysis.results import RunDirectory
from recarena.analysis.stats import SEED
from recarena.models import segmentation as seg
from recarena.simulator.world_tables import WorldTables

__all__ = ["METHODS", "SegmentationResult", "default_rules", "segmentation_analysis"]

#: Methods scored by :func:`segmentation_analysis`, in display order.
METHODS: tuple[str, ...] = ("rules", "rfm", "kmeans", "logistic (kmeans)", "logistic (rfm)")


def default_rules(world: WorldTables) -> list[tuple[str, float, float]]:
    """Sign of the first two numeric features: (+,·), (−,+), (−,−) → 3 rules + catch-all."""
    names = list(world.numeric_names)
    if not names:
        return []
    first = names[0]
    rules = [(first, 0.0, np.inf)]
    if len(names) > 1:
        rules += [(names[1], 0.0, np.inf), (names[1], -np.inf, 0.0)]
    return rules


def _rules(options: SegmentationOptions, world: WorldTables) -> list[tuple[str, float, float]]:
    if not options.rules:
        return default_rules(world)
    return [
        (
            rule.feature,
            -np.inf if rule.min is None else rule.min,
            np.inf if rule.max is None else rule.max,
        )
        for rule in options.rules
    ]


class SegmentationResult:
    """Scores per seed and method, and the first seed's RFM table and k-means profiles."""

    def __init__(self, scores: pd.DataFrame, rfm: pd.DataFrame, profiles: pd.DataFrame) -> None:
        self.scores = scores
        self.rfm = rfm
        self.profiles = profiles

    def rfm_summary(self) -> pd.DataFrame:
        """Per RFM segment: users, share, mean recency / frequency / monetary."""
        if len(self.rfm) == 0:
            return pd.DataFrame()
        g = self.rfm.groupby("segment", sort=False)
        out = g.agg(
            users=("R", "size"),
            recency=("recency", "mean"),
            frequency=("frequency", "mean"),
            monetary=("monetary", "mean"),
        )
        out.insert(1, "share", out["users"] / out["users"].sum())
        order = [s for s in seg.RFM_SEGMENTS if s in out.index]
        return out.loc[order].reset_index()

    def rf_grid(self) -> pd.DataFrame:
        """Users per (R score, F score) cell, R as rows (high = recent) and F as columns."""
        if len(self.rfm) == 0:
            return pd.DataFrame()
        return pd.crosstab(self.rfm["R"], self.rfm["F"]).sort_index(ascending=False)


def _score_rows(
    seed: int,
    method: str,
    latent: NDArray[Any],
    labels: NDArray[Any],
    taught: NDArray[Any] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {SEED: seed, "method": method, "segments": int(np.unique(labels).size)}
    row.update(seg.segment_agreement(latent, labels))
    row["ari_vs_labels"] = (
        seg.segment_agreement(taught, labels)["ari"] if taught is not None else np.nan
    )
    return row


def segmentation_analysis(
    rd: RunDirectory, options: SegmentationOptions | None = None
) -> SegmentationResult:
    """Score every method of :data:`METHODS` on every seed (options in the module docstring:
    ``reference_arm``, ``rules``, ``k``, ``n_init``, ``rfm_bins``)."""
    horizon = rd.horizon()
    options = options or SegmentationOptions()
    bins = options.rfm_bins
    n_init = options.n_init
    reference = options.reference_arm or (rd.arms[0] if rd.arms else None)
    rows: list[dict[str, Any]] = []
    rfm_first = pd.DataFrame()
    profiles_first = pd.DataFrame()
    for seed in rd.seeds:
        world = rd.world(seed)
        users = np.flatnonzero(world.join_time <= horizon).astype(np.int64)
        latent = world.segment[users]
        X = world.features[users].astype(np.float64)
        k = options.k or int(np.unique(world.segment).size)
        half = np.random.default_rng(seed).random(users.size) < 0.5
        labels_k, _ = seg.kmeans_segments(X, k, n_init, seed)
        rows.append(
            _score_rows(
                seed,
                "rules",
                latent,
                seg.rule_segments(X, world.feature_names, _rules(options, world)),
            )
        )
        runs = [r for r in rd.runs() if r.seed == seed and r.arm == reference]
        labels_rfm = None
        if runs:
            log = activity_log(runs[0])
            join = world.join_time[users]
            table = seg.rfm_table(
                log.purchase_t, log.purchase_user, log.purchase_revenue, users, join, horizon
            )
            scored = seg.rfm_scores(table, bins)
            labels_rfm = seg.rfm_segments(scored, bins)
            rows.append(_score_rows(seed, "rfm", latent, labels_rfm))
            if len(rfm_first) == 0:
                rfm_first = scored.assign(segment=[seg.RFM_SEGMENTS[i] for i in labels_rfm])
            runs[0].tables.clear()
        rows.append(_score_rows(seed, "kmeans", latent, labels_k))
        for name, taught in (("logistic (kmeans)", labels_k), ("logistic (rfm)", labels_rfm)):
            if taught is None:
                continue
            model = seg.fit_segment_classifier(X[half], taught[half])
            predicted = np.asarray(model.predict(X[~half]))
            rows.append(_score_rows(seed, name, latent[~half], predicted, taught[~half]))
        if len(profiles_first) == 0:
            profiles_first = seg.segment_profiles(X, world.feature_names, labels_k)
            purity = pd.crosstab(labels_k, latent, normalize="index")
            profiles_first.insert(2, "latent_segment", purity.idxmax(axis=1))
            profiles_first.insert(3, "purity", purity.max(axis=1))
    scores = pd.DataFrame(rows)
    return SegmentationResult(scores, rfm_first, profiles_first)
