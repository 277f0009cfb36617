r"""Segment-level personalization: one action per segment, on every surface.

Registered kind ``segment``. Users are put into segments by one of three methods
(:mod:`recarena.models.segmentation`):

``rules``
    Heuristic thresholds on encoded features (``rules``: first matching rule wins, the rest
    form a catch-all segment). Needs no data.
``kmeans``
    k-means on standardised features (``n_segments``, ``n_init`` restarts, seed fixed at
    setup), refitted on every user in ``History.user_features`` at each ``fit``.
``rfm``
    RFM scores from the purchase log (``rfm_bins`` = 4 or 5 quantile bins; recency = days
    since the last purchase) mapped to named RFM segments; users unseen at the last fit —
    new arrivals — are assigned by a multinomial logistic regression trained on the labelled
    users' features.

Then every user of a segment gets the segment's action:

* **slate surface** — the segment's most clicked items (clicks of its members, from
  ``History.clicks`` at each fit plus click feedback since; all-time or the last
  ``window_days`` at fit time), ties broken by global clicks then item id; with probability
  ``epsilon`` a uniformly random slate instead (propensity of the first item logged);
* **variant surface** — ε-greedy over variants per segment on the segment's click-through
  rate, learnt online from click feedback (posterior mean with a Beta(1, 1) prior, so an
  untried variant starts at 0.5 and is tried early);
* **campaign surface** — the segment's offer: fixed by ``segment_offers`` (−1 = none), or
  learnt from the randomised pilot as the offer of largest estimated incremental NPV
  :math:`\bar y_{T,so}(v_o - c^{conv}_o) - c_o - \bar y_{C,so} v_o` (response rates of the
  segment's treated and control rows; segments with fewer than ``min_segment_rows`` rows per
  arm left untreated), the expected incremental NPV of the simulator's oracle with estimated
  rates: a contacted user pays the conversion cost on every response, including those that
  would have happened without the offer. Pilot, contact rules and budget as in
  :mod:`recarena.policies.campaigns.base`.

Before a data-driven segmentation exists (``kmeans``/``rfm`` before the first fit) every user
is in segment 0 and decisions are flagged ``fallback``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from recarena.contract import Decision, DecisionRequest, Feedback, FeedbackKind, History, Surface
from recarena.models import segmentation as seg
from recarena.models.targeting import offer_samples
from recarena.policies.campaigns.base import (
    CampaignPolicy,
    ValueCampaignParams,
    campaign_log,
    history_features,
)
from recarena.policies.recommenders.slates import explore, ranked_items
from recarena.policies.registry import register
from recarena.typing import BoolArray, ClosedModel, FloatArray, IntArray

__all__ = ["SegmentPolicy", "SegmentRule"]


class SegmentRule(ClosedModel):
    """A heuristic segment: users whose ``feature`` lies in [min, max] (open when None)."""

    feature: str = Field(description="encoded feature name, e.g. 'income' or 'region=2'")
    min: float | None = Field(
        None, ge=-1e12, le=1e12, description="lower bound (None = none), in feature units"
    )
    max: float | None = Field(
        None, ge=-1e12, le=1e12, description="upper bound (None = none), in feature units"
    )

    def bounds(self) -> tuple[str, float, float]:
        """``(feature, low, high)`` with ±inf for open ends."""
        low = -np.inf if self.min is None else self.min
        high = np.inf if self.max is None else self.max
        return self.feature, float(low), float(high)


@register
class SegmentPolicy(CampaignPolicy):
    """Rules, RFM or k-means segments; one slate, variant or offer per segment."""

    class Params(ValueCampaignParams):
        kind: Literal["segment"] = "segment"
        method: Literal["rules", "rfm", "kmeans"] = Field("kmeans", description="segmentation")
        n_segments: int = Field(4, ge=1, le=100, description="k-means: number of segments")
        n_init: int = Field(10, ge=1, le=100, description="k-means: restarts")
        rfm_bins: Literal[4, 5] = Field(5, description="RFM: quantile bins per score")
        rules: list[SegmentRule] = Field(
            default_factory=list, description="rules: ordered segment rules"
        )
        segment_offers: list[Annotated[int, Field(ge=-1, le=10_000)]] | None = Field(
            None,
            max_length=1000,
            description="campaign: offer per segment (−1 = none, else < number of offers); "
            "None = learn",
        )
        min_segment_rows: int = Field(
            20,
            ge=1,
            le=10_000_000,
            description="campaign: rows per arm to estimate a segment's offer value",
        )
        epsilon: float = Field(0.05, ge=0, le=1, description="slate/variant exploration")
        window_days: float | None = Field(
            None, gt=0, le=3650, description="slates: count clicks over the last W days at fit"
        )
        target_fraction: float | None = Field(
            None, gt=0, le=1, description="treat at most this share of the users of a campaign"
        )

        @model_validator(mode="after")
        def _rules_needed(self) -> SegmentPolicy.Params:
            if self.method == "rules" and not self.rules:
                raise ValueError("method 'rules' needs at least one rule in 'rules'")
            if self.segment_offers is not None and any(o < -1 for o in self.segment_offers):
                raise ValueError("segment_offers entries must be offer indices or -1")
            return self

    summary = "Segments (rules / RFM / k-means); one slate, variant or offer per segment."
    surfaces = frozenset({Surface.SLATE, Surface.VARIANT, Surface.CAMPAIGN})
    online = True
    selection = "value"
    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, object]]:
        """Each method; fixed and learnt offers."""
        return [
            {"kind": cls.kind, "method": "kmeans", "n_segments": 3, "n_init": 2},
            {"kind": cls.kind, "method": "rfm", "rfm_bins": 4, "min_segment_rows": 5},
            {
                "kind": cls.kind,
                "method": "rules",
                "segment_offers": [0, -1, 1],
                "rules": [{"feature": "age", "min": 0.0}, {"feature": "income", "max": -0.5}],
            },
        ]

    # ------------------------------------------------------------------ state
    @property
    def n_segment_labels(self) -> int:
        """Number of segment labels the method can produce."""
        p = self.params
        if p.method == "rules":
            return len(p.rules) + 1
        if p.method == "rfm":
            return len(seg.RFM_SEGMENTS)
        return p.n_segments

    def _setup_model(self) -> None:
        spec, p = self.spec_, self.params
        if p.method == "rules":
            names = set(spec.feature_names)
            unknown = [r.feature for r in p.rules if r.feature not in names]
            if unknown:
                raise ValueError(
                    f"segment rules name unknown features {unknown}; known: "
                    f"{list(spec.feature_names)}"
                )
        if p.segment_offers is not None:
            if len(p.segment_offers) != self.n_segment_labels:
                raise ValueError(
                    f"segment_offers has {len(p.segment_offers)} entries, the method gives "
                    f"{self.n_segment_labels} segments"
                )
            if any(o >= spec.n_offers for o in p.segment_offers):
                raise ValueError(f"segment_offers name an offer ≥ n_offers={spec.n_offers}")
        s = self.n_segment_labels
        self.kmeans_: Any = None
        self.rfm_users_ = np.zeros(0, dtype=np.int64)
        self.rfm_labels_ = np.zeros(0, dtype=np.int64)
        self.rfm_classifier_: Any = None
        self.item_counts_ = np.zeros((s, spec.n_items)) if Surface.SLATE in spec.surfaces else None
        self.global_counts_ = np.zeros(spec.n_items)
        k = max(spec.n_variants, 1)
        self.variant_trials_ = np.zeros((s, k))
        self.variant_clicks_ = np.zeros((s, k))
        self.offer_values_: FloatArray | None = None

    def _has_segmentation(self) -> bool:
        p = self.params
        if p.method == "kmeans":
            return self.kmeans_ is not None
        if p.method == "rfm":
            return self.rfm_classifier_ is not None
        return True

    def segments(self, users: IntArray, features: Any) -> tuple[IntArray, BoolArray]:
        """Segment of each user, and whether it is a fallback (no segmentation yet)."""
        p = self.params
        b = users.shape[0]
        if not self._has_segmentation():
            return np.zeros(b, dtype=np.int64), np.ones(b, dtype=bool)
        X = np.asarray(features, dtype=np.float64)
        if p.method == "rules":
            rules = [r.bounds() for r in p.rules]
            return seg.rule_segments(X, self.spec_.feature_names, rules), np.zeros(b, bool)
        if p.method == "kmeans":
            return seg.predict_kmeans(self.kmeans_, X), np.zeros(b, dtype=bool)
        labels = (
            np.asarray(self.rfm_classifier_.predict(X), dtype=np.int64)
            if b
            else np.zeros(0, dtype=np.int64)
        )
        pos = np.minimum(np.searchsorted(self.rfm_users_, users), self.rfm_users_.size - 1)
        known = self.rfm_users_[pos] == users
        labels[known] = self.rfm_labels_[pos[known]]
        return labels, np.zeros(b, dtype=bool)

    # ------------------------------------------------------------------ fitting
    def _fit_model(self, history: History) -> None:
        p = self.params
        users = history.user_features.index.to_numpy(dtype=np.int64)
        X = history.user_features.to_numpy(dtype=np.float64)
        if p.method == "kmeans" and users.size >= p.n_segments:
            _, self.kmeans_ = seg.kmeans_segments(X, p.n_segments, p.n_init, self.model_seed_)
        elif p.method == "rfm" and users.size:
            self._fit_rfm(history, users, X)
        if self.item_counts_ is not None and len(history.clicks):
            self._count_items(history)
        if Surface.CAMPAIGN in self.spec_.surfaces:
            self._fit_offers(history)

    def _fit_rfm(self, history: History, users: IntArray, X: FloatArray) -> None:
        p = self.params
        life = history.lifecycle
        join = pd.Series(np.zeros(users.size), index=users)
        if len(life):
            arrivals = life[life["event"] == "arrival"]
            join.update(pd.Series(arrivals["t"].to_numpy(), index=arrivals["user"].to_numpy()))
        conv = history.conversions
        table = seg.rfm_table(
            conv["t"].to_numpy(dtype=np.float64) if len(conv) else np.zeros(0),
            conv["user"].to_numpy(dtype=np.int64) if len(conv) else np.zeros(0, np.int64),
            conv["revenue"].to_numpy(dtype=np.float64) if len(conv) else np.zeros(0),
            users,
            np.asarray(join.to_numpy(dtype=np.float64), dtype=np.float64),
            history.t,
        )
        labels = seg.rfm_segments(seg.rfm_scores(table, p.rfm_bins), p.rfm_bins)
        order = np.argsort(users, kind="stable")
        self.rfm_users_ = users[order]
        self.rfm_labels_ = labels[order]
        self.rfm_classifier_ = seg.fit_segment_classifier(X, labels)

    def _count_items(self, history: History) -> None:
        assert self.item_counts_ is not None
        clicks = history.clicks
        if self.params.window_days is not None:
            clicks = clicks[clicks["t"] > history.t - self.params.window_days]
        users = clicks["user"].to_numpy(dtype=np.int64)
        items = clicks["item"].to_numpy(dtype=np.int64)
        labels, _ = self.segments(users, history_features(history, users))
        self.item_counts_[:] = 0.0
        np.add.at(self.item_counts_, (labels, items), 1.0)
        self.global_counts_ = np.bincount(items, minlength=self.spec_.n_items).astype(float)

    def _fit_offers(self, history: History) -> None:
        """Per segment and offer: ȳ_T·(value − conversion cost) − contact cost − ȳ_C·value.

        The conversion cost is paid on the treated users' organic responses too, so the
        difference in response rates times the margin overstates the value by ȳ_C·conversion
        cost (enough to make money-losing offers look profitable).
        """
        spec, p = self.spec_, self.params
        self.offer_values_ = None
        if p.segment_offers is not None:
            return
        log = campaign_log(history)
        if len(log) == 0 or not self._has_segmentation():
            return
        users = log["user"].to_numpy(dtype=np.int64)
        labels, _ = self.segments(users, history_features(history, users))
        y = log["responded"].to_numpy(dtype=np.float64)
        s = self.n_segment_labels
        values = np.full((s, spec.n_offers), -np.inf)
        margin = spec.offer_value - spec.offer_conversion_cost
        for o in range(spec.n_offers):
            index, t = offer_samples(
                log["offer"].to_numpy(),
                log["control_for"].to_numpy(),
                log["propensity"].to_numpy(dtype=np.float64),
                o,
            )
            group = labels[index]
            n1 = np.bincount(group[t == 1], minlength=s)
            n0 = np.bincount(group[t == 0], minlength=s)
            y1 = np.bincount(group[t == 1], weights=y[index][t == 1], minlength=s)
            y0 = np.bincount(group[t == 0], weights=y[index][t == 0], minlength=s)
            enough = (n1 >= p.min_segment_rows) & (n0 >= p.min_segment_rows)
            rate1 = np.divide(y1, n1, out=np.zeros(s), where=n1 > 0)
            rate0 = np.divide(y0, n0, out=np.zeros(s), where=n0 > 0)
            value = rate1 * margin[o] - spec.offer_contact_cost[o] - rate0 * spec.offer_value[o]
            values[enough, o] = value[enough]
        if np.isfinite(values).any():
            self.offer_values_ = values

    # ------------------------------------------------------------------ online learning
    def _learn(self, feedback: Feedback) -> None:
        if feedback.kind is not FeedbackKind.CLICK:
            return
        labels, _ = self.segments(feedback.users, feedback.features)
        clicked = feedback.rewards > 0
        if feedback.surface is Surface.VARIANT:
            np.add.at(self.variant_trials_, (labels, feedback.actions), 1.0)
            np.add.at(self.variant_clicks_, (labels[clicked], feedback.actions[clicked]), 1.0)
        elif feedback.surface is Surface.SLATE and self.item_counts_ is not None:
            rows, slots = feedback.clicks()  # every click of a session with several
            items = feedback.actions[rows, slots].astype(np.int64)
            np.add.at(self.item_counts_, (labels[rows], items), 1.0)
            self.global_counts_ += np.bincount(items, minlength=self.global_counts_.size)

    # ------------------------------------------------------------------ acting
    def _act(self, request: DecisionRequest) -> Decision:
        if request.surface is Surface.CAMPAIGN:
            return self._campaign(request)
        labels, fallback = self.segments(request.users, request.features)
        if request.surface is Surface.VARIANT:
            decision = self._variants(labels)
        else:
            decision = self._slates(request, labels)
        decision.fallback = fallback
        return decision

    def _variants(self, labels: IntArray) -> Decision:
        eps, k = self.params.epsilon, self.spec_.n_variants
        mean = (self.variant_clicks_ + 1.0) / (self.variant_trials_ + 2.0)
        best = np.argmax(mean, axis=1)[labels]
        explored = self.rng_.random(labels.size) < eps
        actions = np.where(explored, self.rng_.integers(0, k, labels.size), best)
        propensity = (1.0 - eps) * (actions == best) + eps / k
        return Decision(
            actions=actions.astype(np.int64), propensities=propensity, group=labels.copy()
        )

    def _slates(self, request: DecisionRequest, labels: IntArray) -> Decision:
        assert self.item_counts_ is not None
        k = self.spec_.slate_size
        tie = self.global_counts_ / (self.global_counts_.sum() + 1.0)  # < 1: segment first
        slates = np.empty((request.size, k), dtype=np.int64)
        for s in np.unique(labels):  # one ranking per segment, not per user
            ranked = ranked_items(self.item_counts_[s] + tie, request.available_items)
            top = ranked[:k]
            if top.size < k:
                top = np.concatenate([top, np.repeat(top[-1:], k - top.size)])
            slates[labels == s] = top
        candidates = np.flatnonzero(request.available_items)
        decision = explore(self.rng_, slates, candidates, self.params.epsilon).decision()
        decision.group = labels.copy()  # the segment, not the exploration flag
        return decision

    # ------------------------------------------------------------------ campaigns
    def _ready(self) -> bool:
        if not self._has_segmentation():
            return False
        return self.params.segment_offers is not None or self.offer_values_ is not None

    def _values(self, request: DecisionRequest) -> FloatArray:
        labels, _ = self.segments(request.users, request.features)
        if self.params.segment_offers is not None:
            fixed = np.full((self.n_segment_labels, self.spec_.n_offers), -np.inf)
            for s, o in enumerate(self.params.segment_offers):
                if o >= 0:
                    fixed[s, o] = 1.0
            return fixed[labels]
        assert self.offer_values_ is not None
        return self.offer_values_[labels]
