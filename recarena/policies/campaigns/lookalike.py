r"""Look-alike retention targeting: a churn classifier, then a retention offer to the top-k.

Registered kind ``lookalike``. At every ``fit(history)`` at time :math:`t` the policy builds
a churn sample at the cut-off :math:`c = t - H` (``label_days``): users alive at :math:`c`,
described by their encoded features and behaviour aggregates over :math:`(c - W, c]`
(``lookback_days``; :mod:`recarena.models.churn`), labelled 1 if they churned — a
``"churn"`` event of ``History.lifecycle`` — in :math:`(c, t]`. A binary classifier
(``model``: standardised logistic regression or CatBoost) is fitted on it, and the aggregates
of every user alive at :math:`t` (window :math:`(t - W, t]`) are stored. At a campaign the
active base is scored, :math:`s_u = \hat P(\text{churn} \mid x_u, a_u)`, and the retention
offer ``offer`` goes to the ``top_k`` highest scores (or the top ``target_fraction``), within
eligibility, contact rules and budget.

``model: random`` targets the same number of users uniformly at random — the baseline that
tells whether the churn model finds users a retention offer can help. Before the first
usable fit (fewer than :data:`MIN_CHURNERS` churners or stayers in the sample), scores are
random too and every decision is flagged ``fallback``; users who joined after the last fit
are scored with zero activity and flagged likewise.

A high churn score is not the same as a high retention *effect*: in the simulator an offer
with ``retention_effect`` r multiplies the churn hazard by :math:`e^{-r}` for persuadables
and :math:`e^{+r}` for sleeping dogs (``docs/world.md``). Look-alike targeting helps when
the at-risk users it finds are persuadable; the analysis reports churns prevented against
random targeting from the simulator's truth.

References
----------
.. [1] M. Shmueli-Scheuer et al., "Look-alike modeling for online advertising", and
   K. Coussement and D. Van den Poel, "Churn prediction in subscription services", Expert
   Systems with Applications 34(1):313–327, 2008.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from recarena.contract import DecisionRequest, History
from recarena.models.churn import (
    ActivityLog,
    behaviour_aggregates,
    churn_sample,
    make_churn_classifier,
)
from recarena.models.targeting import positive_proba
from recarena.policies.campaigns.base import CampaignParams, CampaignPolicy, history_features
from recarena.policies.registry import register
from recarena.typing import BoolArray, FloatArray, IntArray

__all__ = ["LookalikePolicy", "activity_log"]

#: A churn sample needs at least this many churners and stayers to be fitted.
MIN_CHURNERS = 5


def activity_log(history: History) -> ActivityLog:
    """The :class:`~recarena.models.churn.ActivityLog` of a logged history.

    Sessions come from ``History.impressions`` (unknown when impressions are not kept).
    """
    return ActivityLog.from_frames(
        history.impressions if len(history.impressions) else None,
        history.clicks,
        history.conversions,
        history.lifecycle,
        churn_event="churn",
        arrival_event="arrival",
    )


@register
class LookalikePolicy(CampaignPolicy):
    """Churn look-alike model; retention offer to the top-k most churn-like users."""

    class Params(CampaignParams):
        kind: Literal["lookalike"] = "lookalike"
        model: Literal["logistic", "catboost", "random"] = Field(
            "logistic", description="churn classifier, or random targeting of the same size"
        )
        offer: int = Field(
            0, ge=0, le=10_000, description="index of the retention offer (< number of offers)"
        )
        top_k: int | None = Field(
            None,
            ge=1,
            le=100_000_000,
            description="treat this many users (overrides target_fraction)",
        )
        target_fraction: float | None = Field(
            0.1, gt=0, le=1, description="treat at most this share of the users of a campaign"
        )
        pilot_campaigns: int = Field(0, ge=0, le=100, description="randomised pilot campaigns")
        lookback_days: float = Field(14.0, gt=0, le=3650, description="W: window of the aggregates")
        label_days: float = Field(
            7.0, gt=0, le=3650, description="H: churn label window after cut-off"
        )

    summary = "Look-alike churn model (logistic / CatBoost); retention offer to the top-k."
    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, object]]:
        """The three models; a short label window so the 4-day contract history can fit."""
        short = {"label_days": 2.0, "lookback_days": 2.0}
        return [
            {"kind": cls.kind, "model": "logistic", **short},
            {"kind": cls.kind, "model": "catboost", "top_k": 5, **short},
            {"kind": cls.kind, "model": "random", "top_k": 5},
        ]

    def _setup_model(self) -> None:
        if self.params.offer >= self.spec_.n_offers:
            raise ValueError(
                f"lookalike: offer {self.params.offer} does not exist "
                f"(the world has {self.spec_.n_offers} offers)"
            )
        self.model_: Any = None
        self.scored_users_ = np.zeros(0, dtype=np.int64)
        self.scored_aggregates_ = np.zeros((0, 0))
        self.fit_t_ = float("nan")

    def _ready(self) -> bool:
        return True  # without a model the scores are random and flagged as fallbacks

    def _max_treated(self, b: int) -> int | None:
        if self.params.top_k is not None:
            return min(self.params.top_k, b)
        return super()._max_treated(b)

    def _fit_model(self, history: History) -> None:
        p = self.params
        self.model_ = None
        if p.model == "random":
            return
        log = activity_log(history)
        cutoff = history.t - p.label_days
        if cutoff <= 0:
            return
        sample = churn_sample(log, cutoff, p.label_days, p.lookback_days)
        n_churn = int(sample.churned.sum())
        if min(n_churn, sample.churned.size - n_churn) < MIN_CHURNERS:
            return
        X = np.hstack([history_features(history, sample.users), sample.aggregates])
        self.model_ = make_churn_classifier(p.model, self.model_seed_).fit(X, sample.churned)
        alive = log.alive(history.t)
        self.scored_users_ = alive
        self.scored_aggregates_ = behaviour_aggregates(log, alive, history.t, p.lookback_days)
        self.fit_t_ = history.t

    def _known(self, users: IntArray) -> tuple[BoolArray, IntArray]:
        pos = np.searchsorted(self.scored_users_, users)
        pos = np.minimum(pos, max(self.scored_users_.size - 1, 0))
        known = (
            self.scored_users_[pos] == users if self.scored_users_.size else np.zeros_like(users)
        )
        return known.astype(bool), pos

    def churn_scores(self, request: DecisionRequest) -> FloatArray:
        """Estimated churn probability of each user of ``request`` (random without a model)."""
        b = request.size
        if self.model_ is None:
            return self.rng_.random(b)
        known, pos = self._known(request.users)
        width = self.scored_aggregates_.shape[1]
        aggregates = np.zeros((b, width))
        aggregates[known] = self.scored_aggregates_[pos[known]]
        X = np.hstack([request.features.astype(np.float64), aggregates])
        return positive_proba(self.model_, X)

    def _values(self, request: DecisionRequest) -> FloatArray:
        values = np.full((request.size, self.spec_.n_offers), -np.inf)
        values[:, self.params.offer] = self.churn_scores(request)
        return values

    def _random_priority(self) -> bool:
        return self.model_ is None  # the random baseline, or no model fitted yet

    def _fallback_mask(self, request: DecisionRequest) -> BoolArray:
        if self.params.model == "random":
            return np.zeros(request.size, dtype=bool)
        if self.model_ is None:
            return np.ones(request.size, dtype=bool)
        known, _ = self._known(request.users)
        return ~known
