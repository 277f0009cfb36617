"""The policy interface: what a policy sees, what it returns, and how it learns.

A policy acts on a *batch* of users at once and returns one action per user (an item slate,
a variant, or an offer) together with the propensity of that action where it randomises. It
learns online from feedback batches (:meth:`Policy.learn`), possibly delayed, and/or refits
from the logged history on a schedule (:meth:`Policy.fit`). What it can do is declared in
class attributes (``surfaces``, ``online``, ``batch_fit``, ``contextual``, ``needs_oracle``);
the runner reads those, never ``isinstance``.

Policies see only what a real system would see: observable user features, the catalogue's
public attributes (category, price, text), their own feedback and the logged history. Only
the ``oracle`` policy, which declares ``needs_oracle``, is handed the simulator's truth.

Conventions (after scikit-learn's estimator rules): the constructor stores the validated
parameters and nothing else; state learnt in :meth:`setup`/:meth:`fit` ends in ``_``;
calling :meth:`fit` twice on the same history gives the same state as calling it once;
acting before :meth:`setup` raises :class:`NotSetUpError`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal, get_args, get_origin

import numpy as np
from pydantic import model_validator

from recarena.contract import (
    Decision,
    DecisionRequest,
    EnvironmentSpec,
    Feedback,
    History,
    OracleView,
    Surface,
    check_decision,
)
from recarena.typing import ClosedModel, FloatArray, IntArray

__all__ = [
    "MAX_PARAMETER",
    "NotSetUpError",
    "Policy",
    "PolicyParams",
    "campaign_action_index",
    "one_hot",
    "params_kind",
]


class NotSetUpError(RuntimeError):
    """A policy was used before :meth:`Policy.setup`."""


#: Largest magnitude of any numeric policy parameter: a backstop for plugin fields without a
#: range of their own (a value like 1e300 is a typo, and can ask for absurd work). Every
#: built-in parameter declares a tighter range (``tests/policies/test_param_ranges.py``).
MAX_PARAMETER = 1e12


class PolicyParams(ClosedModel):
    """Base of every policy's parameter model: closed (``extra="forbid"``) and frozen.

    Subclasses declare ``kind: Literal["<registry id>"]`` and their hyperparameters, each
    with a default, a finite range (``ge``/``gt`` and ``le``/``lt``: what would explode or
    take absurdly long is refused at ``validate``) and a one-line description. Every number
    is also held to ±:data:`MAX_PARAMETER`.
    """

    kind: str

    @model_validator(mode="after")
    def _sane_magnitudes(self) -> PolicyParams:
        for name in type(self).model_fields:
            value = getattr(self, name)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and abs(value) > MAX_PARAMETER:
                raise ValueError(
                    f"{name} = {value:g} is beyond ±{MAX_PARAMETER:g}, the range of any "
                    "policy parameter"
                )
        return self


class Policy(ABC):
    """Base class of every policy.

    Subclasses set the class attributes, define a :class:`PolicyParams` subclass as
    ``Params``, and implement :meth:`_act` (and :meth:`_learn` / :meth:`_fit` where they
    declare ``online`` / ``batch_fit``). The public methods check the contract and delegate.

    Class attributes
    ----------------
    kind
        Registry id. Written once, in the parameter model (``kind: Literal["<id>"]``); the
        class attribute is derived from it when the class is defined.
    summary
        One line shown by ``recarena list``.
    surfaces
        Surfaces the policy can act on.
    online
        Learns from feedback batches via :meth:`learn`.
    batch_fit
        Refits from the logged :class:`History` on the scenario's retrain schedule.
    contextual
        Reads the users' features; a policy that does not decides the same when they change.
    randomised
        May draw its actions at random, and then logs for every decision the propensity of
        the logged action, finite in (0, 1] (1 where it decided deterministically). A policy
        that is not randomised logs no propensities or 1, and acts the same from any seed.
    needs_oracle
        Is handed a read-only :class:`~recarena.contract.OracleView` (the upper
        bound policy only).
    per_decision_propensities
        A logged propensity is the probability of the logged action (per slot on slates)
        given the policy's state, so decisions repeated from one state reproduce it. False
        for experiments over sub-policies, which log the probability of the (sub-policy,
        action) pair under a per-user or per-session assignment.
    """

    kind: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Params: ClassVar[type[PolicyParams]] = PolicyParams
    surfaces: ClassVar[frozenset[Surface]] = frozenset()
    online: ClassVar[bool] = False
    batch_fit: ClassVar[bool] = False
    contextual: ClassVar[bool] = False
    randomised: ClassVar[bool] = False
    needs_oracle: ClassVar[bool] = False
    per_decision_propensities: ClassVar[bool] = True

    def history_window(self) -> float | None:
        """Days of logged history before the refit time that :meth:`fit` reads: ``None`` for
        none (a policy that is not ``batch_fit``), ``math.inf`` for all of it.

        The engine keeps only this much history in memory, so a run's memory does not grow
        with its length for policies that read a window or nothing. Override it in a
        ``batch_fit`` policy that reads only a recent window.
        """
        return math.inf if self.batch_fit else None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = params_kind(cls.Params)
        if declared is None:
            return
        own = cls.__dict__.get("kind")
        if own is not None and own != declared:
            raise TypeError(
                f"{cls.__name__}.kind = {own!r} contradicts its Params' kind {declared!r}; "
                "declare the kind once, in Params"
            )
        cls.kind = declared

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        """The configs the contract suite checks (:mod:`recarena.experiment.checks`).

        The defaults, ``[{"kind": cls.kind}]``; a policy overrides it to add the option sets
        whose code paths differ (another model, exploration on, sub-policies to wrap).
        """
        return [{"kind": cls.kind}]

    def __init__(self, params: PolicyParams | None = None, **kwargs: Any) -> None:
        if params is None:
            params = self.Params(kind=self.kind, **kwargs)
        elif kwargs:
            raise TypeError("pass either a params model or keyword parameters, not both")
        if not isinstance(params, self.Params):
            raise TypeError(f"{type(self).__name__} expects {self.Params.__name__}")
        self.params = params
        self._is_set_up = False

    # ------------------------------------------------------------------ lifecycle
    def setup(self, spec: EnvironmentSpec, rng: np.random.Generator) -> None:
        """Bind the policy to a world description and its own random stream; reset state."""
        unsupported = spec.surfaces - self.surfaces
        if unsupported:
            raise ValueError(
                f"policy {self.kind!r} acts on surfaces {sorted(self.surfaces)}, "
                f"but is asked to act on {sorted(unsupported)}"
            )
        self.spec_ = spec
        self.rng_ = rng
        self._setup()
        self._is_set_up = True

    def attach_oracle(self, oracle: OracleView) -> None:
        """Give the simulator's truth to a policy that declares ``needs_oracle``."""
        if not self.needs_oracle:
            raise PermissionError(f"policy {self.kind!r} does not declare needs_oracle")
        self.oracle_ = oracle

    def act(self, request: DecisionRequest) -> Decision:
        """Choose actions for a batch of users; see :class:`Decision` for shapes."""
        self._check_set_up()
        if request.surface not in self.surfaces:
            raise ValueError(f"policy {self.kind!r} cannot act on surface {request.surface}")
        decision = self._act(request)
        check_decision(decision, request, self.spec_)
        return decision

    def action_probabilities(self, request: DecisionRequest) -> FloatArray:
        """π(a | x): the probability of every action for every user of the request.

        What off-policy evaluation needs of a *target* policy: the whole distribution its
        ``act`` draws from (given its current state), not only the propensity of the action
        drawn. Variant surface: shape (B, K) over the K variants. Campaign surface: shape
        (B, O + 1), column 0 = no offer and column o + 1 = offer o (see
        :func:`campaign_action_index`); rows sum to 1. Slate surface: the per-slot marginals,
        shape (B, k, n_items), ``[b, j, a]`` = P(item a is shown in slot j); each slot sums
        to 1.

        Raises
        ------
        NotImplementedError
            For policies that cannot report it (see :meth:`reports_probabilities`), or not
            on this surface.
        """
        self._check_set_up()
        if request.surface not in self.surfaces:
            raise ValueError(f"policy {self.kind!r} cannot act on surface {request.surface}")
        if not self.reports_probabilities():
            raise NotImplementedError(
                f"policy {self.kind!r} does not report its action distribution"
            )
        return self._action_probabilities(request)

    @classmethod
    def reports_probabilities(cls) -> bool:
        """True when the policy implements :meth:`action_probabilities`."""
        return cls._action_probabilities is not Policy._action_probabilities

    def learn(self, feedback: Feedback) -> None:
        """Update from a feedback batch. A no-op unless the policy is ``online``."""
        self._check_set_up()
        if self.online and feedback.size:
            self._learn(feedback)

    def fit(self, history: History) -> None:
        """Refit from the logged history. A no-op unless the policy is ``batch_fit``."""
        self._check_set_up()
        if self.batch_fit:
            self._fit(history)

    def get_config(self) -> dict[str, Any]:
        """The parameters as a plain dict that :meth:`Params.model_validate` accepts back."""
        return self.params.model_dump(mode="json")

    # ------------------------------------------------------------------ to override
    def _setup(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Allocate state for ``self.spec_``. Called on every :meth:`setup`."""

    @abstractmethod
    def _act(self, request: DecisionRequest) -> Decision:
        """Choose actions for the batch (every policy implements this)."""

    def _action_probabilities(self, request: DecisionRequest) -> FloatArray:
        """The action distribution (see :meth:`action_probabilities`); optional: a policy
        that defines it is one that :meth:`reports_probabilities`."""
        raise TypeError(f"policy {self.kind!r} defines no _action_probabilities")

    def _learn(self, feedback: Feedback) -> None:
        """Update from feedback; required of policies that declare ``online = True``."""
        raise TypeError(f"policy {self.kind!r} declares online = True but defines no _learn")

    def _fit(self, history: History) -> None:
        """Refit from history; required of policies that declare ``batch_fit = True``."""
        raise TypeError(f"policy {self.kind!r} declares batch_fit = True but defines no _fit")

    # ------------------------------------------------------------------ helpers
    def _check_set_up(self) -> None:
        if not self._is_set_up:
            raise NotSetUpError(f"policy {self.kind!r} used before setup()")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "kind")
        return f"{type(self).__name__}({args})"


def campaign_action_index(offers: IntArray) -> IntArray:
    """Campaign actions as columns of :meth:`Policy.action_probabilities`: offer o → o + 1,
    no offer (-1) → 0."""
    return np.asarray(offers, dtype=np.int64) + 1


def one_hot(actions: IntArray, n_actions: int) -> FloatArray:
    """The distribution of a deterministic choice: row i puts mass 1 on ``actions[i]``."""
    out = np.zeros((actions.shape[0], n_actions))
    out[np.arange(actions.shape[0]), actions] = 1.0
    return out


def params_kind(params: type[PolicyParams]) -> str | None:
    """The registry id a parameter model declares (``kind: Literal["<id>"]``), else None."""
    field = params.model_fields.get("kind")
    annotation = None if field is None else field.annotation
    if get_origin(annotation) is not Literal or len(get_args(annotation)) != 1:
        return None
    return str(get_args(annotation)[0])
