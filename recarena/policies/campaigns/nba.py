r"""Next Best Action: one response model per offer, the best offer per user, under a budget.

Registered kind ``nba``. Life cycle as every campaign policy
(:mod:`recarena.policies.campaigns.base`): randomised pilot campaigns first (each treated user gets
a uniformly drawn eligible offer, so every offer collects responses), then at every
``fit(history)`` one binary response model per offer — logistic regression or CatBoost —
trained on the rows of earlier campaigns that sent that offer. Later campaigns score a value
:math:`V_{uo}` for every user and eligible offer and allocate one offer (or none) per user.

Strategies (:math:`v_o` value, :math:`c^{conv}_o` conversion cost, :math:`c_o` contact cost)
--------------------------------------------------------------------------------------------
``probability`` (a)
    :math:`V_{uo} = \hat P_o(x_u)`, the response probability if sent offer o: the offer most
    likely to be taken up, and under a budget the most expected responses.
``npv`` (b)
    :math:`V_{uo} = \hat P_o(x_u)(v_o - c^{conv}_o) - c_o`, the expected NPV of the contact;
    users with no positive value are not contacted.
``incremental`` (c)
    :math:`V_{uo} = \hat\tau_o(x_u)\,v_o - \hat P_o(x_u)\,c^{conv}_o - c_o` with
    :math:`\hat\tau_o` an uplift learner (``uplift_learner``) fitted on offer o's randomised
    pilot rows and :math:`\hat P_o` the response model: the expected *incremental* NPV of the
    contact, :math:`P_1(v - c^{conv}) - c - P_0 v` — the same accounting as the simulator's
    realised NPV, where an untreated user still earns :math:`v_o` by responding organically
    and a treated responder costs :math:`c^{conv}_o` even if they would have responded
    anyway. It does not pay for sure things and avoids sleeping dogs.

Constraints
-----------
Eligibility (``request.eligible``), the contact cap and suppression window of
:class:`~recarena.policies.campaigns.base.CampaignParams`, ``target_fraction`` (a cap on contacts)
and ``request.budget`` (contact costs). Allocation: ``greedy`` (value per cost), ``lp`` (LP
relaxation with rounding — the LP optimum bounds the exact optimum, so each campaign's
relative optimality gap is known) or ``milp`` (exact, HiGHS branch-and-bound); each targeted
campaign's value, bound and gap are kept in ``allocations_``.

References
----------
.. [1] T. Davenport, "Next best action", in *Competing on Analytics*, 2nd ed., HBR Press 2017.
.. [2] P. Sinha and A. A. Zoltners, "The multiple-choice knapsack problem", Operations
   Research 27(3):503–515, 1979.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from recarena.contract import DecisionRequest, History
from recarena.models.targeting import make_classifier, make_uplift_learner, positive_proba
from recarena.policies.campaigns.base import CampaignPolicy, ValueCampaignParams, fit_offer_models
from recarena.policies.registry import register
from recarena.typing import FloatArray

__all__ = ["NextBestActionPolicy"]


@register
class NextBestActionPolicy(CampaignPolicy):
    """Per-offer response models; best offer by probability, expected NPV or uplift."""

    class Params(ValueCampaignParams):
        kind: Literal["nba"] = "nba"
        strategy: Literal["probability", "npv", "incremental"] = Field(
            "npv", description="value of an offer: P(respond), expected NPV or incremental NPV"
        )
        model: Literal["logistic", "catboost"] = Field(
            "logistic", description="response models (and uplift base models)"
        )
        uplift_learner: Literal["s", "t", "x", "class_transformation", "transformed_outcome"] = (
            Field("t", description="uplift learner of the incremental strategy")
        )
        response_rows: Literal["randomised", "all"] = Field(
            "all", description="response models: pilot rows only, or every treated row"
        )
        target_fraction: float | None = Field(
            None, gt=0, le=1, description="treat at most this share of the users of a campaign"
        )

    summary = "Next Best Action: per-offer response models, best offer by P, NPV or uplift."
    selection = "value"
    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, object]]:
        """Each strategy, the LP allocation with contact rules, and CatBoost once."""
        return [
            {"kind": cls.kind, "strategy": "probability", "target_fraction": 0.3},
            {"kind": cls.kind, "strategy": "npv"},
            {
                "kind": cls.kind,
                "strategy": "incremental",
                "allocation": "lp",
                "max_contacts": 1,
                "suppression_days": 2.0,
            },
            {"kind": cls.kind, "strategy": "npv", "model": "catboost", "allocation": "milp"},
        ]

    def _setup_model(self) -> None:
        self.models_: dict[int, Any] = {}
        self.uplift_models_: dict[int, Any] = {}

    def _fit_model(self, history: History) -> None:
        p = self.params
        seed = self.model_seed_

        def build(X: FloatArray, t: Any, y: FloatArray) -> Any:
            return make_classifier(p.model, seed).fit(X, y)

        self.models_ = fit_offer_models(
            history, self.spec_.n_offers, build, p.response_rows, "treated"
        )
        self.uplift_models_ = {}
        if p.strategy == "incremental":

            def build_uplift(X: FloatArray, t: Any, y: FloatArray) -> Any:
                return make_uplift_learner(p.uplift_learner, p.model, seed).fit(X, t, y)

            uplift = fit_offer_models(
                history, self.spec_.n_offers, build_uplift, "randomised", "both"
            )
            # An offer is scored only when both its response and its uplift model exist.
            self.uplift_models_ = {o: m for o, m in uplift.items() if o in self.models_}

    def _ready(self) -> bool:
        if self.params.strategy == "incremental":
            return bool(self.uplift_models_)
        return bool(self.models_)

    def _values(self, request: DecisionRequest) -> FloatArray:
        spec = self.spec_
        X = request.features.astype(np.float64)
        values = np.full((request.size, spec.n_offers), -np.inf)
        value, conversion, contact = (
            spec.offer_value,
            spec.offer_conversion_cost,
            spec.offer_contact_cost,
        )
        for o, model in self.models_.items():
            p1 = positive_proba(model, X)
            if self.params.strategy == "incremental":
                if o in self.uplift_models_:
                    tau = self.uplift_models_[o].predict_uplift(X)
                    values[:, o] = tau * value[o] - p1 * conversion[o] - contact[o]
            elif self.params.strategy == "npv":
                values[:, o] = p1 * (value[o] - conversion[o]) - contact[o]
            else:
                values[:, o] = p1
        return values
