r"""Uplift targeting on the campaign surface: pilot, fit a CATE learner, treat the top-k%.

Registered kind ``uplift``. Life cycle (shared with the other campaign policies, see
:mod:`recarena.policies.campaigns.base`): the first ``pilot_campaigns`` campaigns are a randomised
pilot (propensities logged); at every ``fit(history)`` one learner per offer is fitted on the
offer's pilot sample — treated rows (``offer = o``, :math:`t = 1`) and its control rows
(``offer = −1``, ``control_for = o``, :math:`t = 0`), outcome ``responded``, features from
``History.user_features`` — and later campaigns treat the top ``target_fraction`` of users
by score, within ``request.budget``.

Scores by ``learner``
---------------------
=========================  ==================================================================
``s`` / ``t`` / ``x``      estimated uplift :math:`\hat\tau_o(x) = \hat\mu_{1o}(x) -
``class_transformation``   \hat\mu_{0o}(x)` from the learner of that name
``transformed_outcome``    (:func:`recarena.models.targeting.make_uplift_learner`)
``response``               the classic *response model* baseline: :math:`\hat P(y = 1 \mid x,
                           \text{treated with } o)`, a classifier on the treated rows only
``random``                 uniform random scores: random targeting of the same size
=========================  ==================================================================

Each user's offer is the one with the highest score; with several offers, uplift is in
responses, not currency (use ``nba`` with ``strategy: incremental`` to weigh offer values).
With ``positive_only`` users whose best score is ≤ 0 are never treated (uplift learners only:
it spares the predicted sleeping dogs even when the target share is not filled).

Why it matters: a response model ranks *sure things* (who respond anyway) first and cannot
tell *sleeping dogs* (whom contact puts off) from persuadables; an uplift model ranks by the
effect of the contact itself (Radcliffe & Surry 2011).

References
----------
.. [1] N. J. Radcliffe and P. D. Surry, "Real-world uplift modelling with significance-based
   uplift trees", Stochastic Solutions white paper, 2011.
.. [2] S. R. Künzel, J. S. Sekhon, P. J. Bickel and B. Yu, "Metalearners for estimating
   heterogeneous treatment effects using machine learning", PNAS 116(10):4156–4165, 2019.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from recarena.contract import DecisionRequest, History
from recarena.models.targeting import make_classifier, make_uplift_learner, positive_proba
from recarena.policies.campaigns.base import CampaignParams, CampaignPolicy, fit_offer_models
from recarena.policies.registry import register
from recarena.typing import FloatArray

__all__ = ["UpliftPolicy"]

Scorer = Literal["s", "t", "x", "class_transformation", "transformed_outcome", "response", "random"]


@register
class UpliftPolicy(CampaignPolicy):
    """Pilot, then target the top-k% by estimated uplift (or by response, or at random)."""

    class Params(CampaignParams):
        kind: Literal["uplift"] = "uplift"
        learner: Scorer = Field("x", description="uplift learner, or response / random baseline")
        base_model: Literal["logistic", "catboost"] = Field(
            "logistic", description="base models of the learner"
        )
        training_rows: Literal["randomised", "all"] = Field(
            "randomised", description="fit on pilot rows only, or on every logged row"
        )
        positive_only: bool = Field(
            False, description="never treat users whose best estimated uplift is ≤ 0"
        )

        @model_validator(mode="after")
        def _balanced_for_class_transformation(self) -> UpliftPolicy.Params:
            if self.learner == "class_transformation" and (
                self.pilot_treat_fraction != 0.5 or self.training_rows != "randomised"
            ):
                raise ValueError(
                    "the class transformation is unbiased only for a 50/50 randomised "
                    "assignment: use pilot_treat_fraction 0.5 and training_rows randomised, "
                    "or learner transformed_outcome"
                )
            return self

    summary = "Uplift targeting: randomised pilot, S/T/X/CT/TO learner, top-k% by uplift."
    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, object]]:
        """Every scorer is checked (CatBoost once, on the X-learner)."""
        configs: list[dict[str, object]] = [
            {"kind": cls.kind, "learner": name}
            for name in (
                "s",
                "t",
                "x",
                "class_transformation",
                "transformed_outcome",
                "response",
                "random",
            )
        ]
        configs.append(
            {"kind": cls.kind, "learner": "x", "base_model": "catboost", "positive_only": True}
        )
        return configs

    def _setup_model(self) -> None:
        self.models_: dict[int, Any] = {}

    def _ready(self) -> bool:
        return self.params.learner == "random" or bool(self.models_)

    def _fit_model(self, history: History) -> None:
        p = self.params
        seed = self.model_seed_
        if p.learner == "random":
            return
        if p.learner == "response":

            def build(X: FloatArray, t: Any, y: FloatArray) -> Any:
                return make_classifier(p.base_model, seed).fit(X, y)

            self.models_ = fit_offer_models(
                history, self.spec_.n_offers, build, p.training_rows, "treated"
            )
            return
        learner = p.learner
        randomised = p.training_rows == "randomised"

        def build_uplift(X: FloatArray, t: Any, y: FloatArray) -> Any:
            return make_uplift_learner(learner, p.base_model, seed, randomised).fit(X, t, y)

        self.models_ = fit_offer_models(
            history, self.spec_.n_offers, build_uplift, p.training_rows, "both"
        )

    def _random_priority(self) -> bool:
        return self.params.learner == "random"

    def _values(self, request: DecisionRequest) -> FloatArray:
        b, n_offers = request.size, self.spec_.n_offers
        if self.params.learner == "random":
            return np.broadcast_to(self.rng_.random(b)[:, None], (b, n_offers)).copy()
        X = request.features.astype(np.float64)
        scores = np.full((b, n_offers), -np.inf)
        for o, model in self.models_.items():
            if self.params.learner == "response":
                scores[:, o] = positive_proba(model, X)
            else:
                scores[:, o] = model.predict_uplift(X)
        if self.params.positive_only and self.params.learner != "response":
            scores = np.where(scores > 0, scores, -np.inf)
        return scores
