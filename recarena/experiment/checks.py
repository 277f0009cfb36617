"""The contract suite every registered policy must pass.

Run over every policy kind and every surface it declares (``tests/contract``), on a small
simulated world:

* **config round trip** — ``Params.model_validate(policy.get_config())`` equals the params;
* **use before setup** raises :class:`~recarena.policies.base.NotSetUpError`;
* **API shape** — ``act`` returns actions of the right shape and range, distinct items in a
  slate, propensities in [0, 1] where given (the base class checks shapes on every call);
* **same seed → same actions** over a sequence of act / learn / fit calls;
* **declared randomisation** — a ``randomised`` policy logs finite propensities in (0, 1]
  and, when it drew something (a propensity below 1), another seed changes its actions; a
  deterministic one logs propensity 1 or none;
* **reported distribution** — a policy that implements ``action_probabilities`` returns
  distributions (per slot on slates) that give its actions positive probability;
* **refit idempotence** — fitting twice on the same history gives the same actions as
  fitting once (batch-fit policies must draw any fit-time randomness from a seed fixed at
  setup, not from a stream that advances with each fit).

A policy can supply the configs to check with the classmethod ``contract_configs``
(defaults to ``[{"kind": cls.kind}]``), e.g. when it wraps other policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from recarena.contract import (
    Decision,
    DecisionRequest,
    EnvironmentSpec,
    Feedback,
    FeedbackKind,
    History,
    Surface,
)
from recarena.policies import registry
from recarena.policies.base import NotSetUpError, Policy
from recarena.simulator.engine import environment_spec
from recarena.simulator.params import (
    CatalogueParams,
    OfferParams,
    PopulationParams,
    ScheduleParams,
    VariantParams,
    WorldParams,
)
from recarena.simulator.simulation import simulate
from recarena.simulator.world import World, offer_eligibility

__all__ = ["CheckContext", "check_context", "check_policy", "contract_cases"]


@dataclass(frozen=True)
class CheckContext:
    """A small world, its spec for one surface, a few requests and a logged history."""

    surface: Surface
    world: World
    spec: EnvironmentSpec
    requests: tuple[DecisionRequest, ...]
    history: History


def _world_params() -> WorldParams:
    return WorldParams(
        population=PopulationParams(n_users=300, arrivals_per_day=5),
        catalogue=CatalogueParams(n_items=60, n_categories=4, new_items_per_day=1),
        offers=[OfferParams(name="cashback"), OfferParams(name="upgrade", value=150)],
        variants=[VariantParams(name="A", ctr=0.05), VariantParams(name="B", ctr=0.07)],
    )


@cache
def check_context(surface: Surface) -> CheckContext:
    """Build (once per surface) a context from a 4-day random-policy simulation."""
    session = {"slate": Surface.SLATE, "variant": Surface.VARIANT}.get(surface.value)
    schedule = ScheduleParams(
        days=4,
        surface=session.value if session else "slate",
        slate_size=5,
        campaign_days=[1.0, 3.0],
        keep_impressions=True,
    )
    params = _world_params()
    result = simulate(
        params,
        schedule,
        seed=7,
        session_policy=registry.make({"kind": "random"}),
        campaign_policy=registry.make({"kind": "random"}),
    )
    world, engine = result.world, result.engine
    history = engine.history.snapshot(4.0, world.features, engine.state.joined(world))
    spec = environment_spec(world, schedule, frozenset([surface]))
    rng = np.random.default_rng(0)
    requests = []
    for t in (4.0, 4.5):
        users = np.sort(rng.choice(np.flatnonzero(engine.state.active(world)), 40, replace=False))
        requests.append(
            DecisionRequest(
                surface=surface,
                t=t,
                users=users,
                features=world.features[users],
                available_items=world.items.release_time <= t,
                eligible=offer_eligibility(world, users) if surface is Surface.CAMPAIGN else None,
                campaign=2 if surface is Surface.CAMPAIGN else -1,
            )
        )
    return CheckContext(surface, world, spec, tuple(requests), history)


def _feedback(ctx: CheckContext, request: DecisionRequest, decision: Decision) -> Feedback:
    """Synthetic feedback: every third user clicks/responds (first slot on slates)."""
    n = request.size
    reward = (np.arange(n) % 3 == 0).astype(np.float64)
    position = np.where(reward > 0, 0, -1) if ctx.surface is Surface.SLATE else None
    kind = FeedbackKind.RESPONSE if ctx.surface is Surface.CAMPAIGN else FeedbackKind.CLICK
    return Feedback(
        kind=kind,
        surface=ctx.surface,
        t=request.t,
        users=request.users,
        actions=decision.actions,
        rewards=reward,
        features=request.features,
        clicked_position=position,
        propensities=decision.propensities,
        decision_time=np.full(n, request.t),
    )


def _episode(
    cls: type[Policy],
    config: dict[str, object],
    ctx: CheckContext,
    fits: int,
    seed: int = 123,
    propensities: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Actions of each request after ``fits`` fits; logged propensities go to ``propensities``."""
    policy = registry.make(config)
    policy.setup(ctx.spec, np.random.default_rng(seed))
    if policy.needs_oracle:
        return []
    actions = []
    for _ in range(fits):
        policy.fit(ctx.history)
    for request in ctx.requests:
        decision = policy.act(request)
        _check_values(ctx, request, decision)
        _check_propensities(policy, decision)
        _check_distribution(policy, request, decision)
        if propensities is not None and decision.propensities is not None:
            propensities.append(decision.propensities)
        actions.append(decision.actions.copy())
        policy.learn(_feedback(ctx, request, decision))
    return actions


def _check_values(ctx: CheckContext, request: DecisionRequest, decision: Decision) -> None:
    if ctx.surface is Surface.SLATE:
        rows = np.sort(decision.actions, axis=1)
        n_available = int(request.available_items.sum())
        if n_available >= ctx.spec.slate_size:
            assert not (rows[:, 1:] == rows[:, :-1]).any(), "slates must hold distinct items"
            assert request.available_items[decision.actions].all(), "unavailable item shown"
    if ctx.surface is Surface.CAMPAIGN and request.eligible is not None:
        treated = decision.actions >= 0
        assert request.eligible[np.flatnonzero(treated), decision.actions[treated]].all()
    p = decision.propensities
    if p is not None:
        finite = p[np.isfinite(p)]
        assert ((finite >= 0) & (finite <= 1 + 1e-9)).all(), "propensities must lie in [0, 1]"


def _check_distribution(policy: Policy, request: DecisionRequest, decision: Decision) -> None:
    """A policy that reports its action distribution gives distributions, and its actions
    have positive probability under them (one per slot on slates)."""
    if not policy.reports_probabilities():
        return
    try:
        probs = policy.action_probabilities(request)
    except NotImplementedError:  # not on this surface
        return
    rows = np.arange(request.size)
    assert np.isfinite(probs).all() and (probs >= 0).all(), f"{policy.kind!r}: bad probabilities"
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-9)
    if request.surface is Surface.SLATE:
        slots = np.arange(decision.actions.shape[1])
        taken = probs[rows[:, None], slots, decision.actions]
    else:
        index = decision.actions + 1 if request.surface is Surface.CAMPAIGN else decision.actions
        taken = probs[rows, index]
    assert (taken > 0).all(), f"{policy.kind!r} took actions its distribution gives 0"


def _check_propensities(policy: Policy, decision: Decision) -> None:
    """The declared ``randomised`` flag matches the logged propensities.

    A randomised policy logs a finite propensity in (0, 1] for every decision (off-policy
    estimators divide by it); a deterministic one logs none or 1. Per-slot and whole-slate
    propensities, where given, are probabilities too (NaN where unknown).
    """
    p = decision.propensities
    if policy.randomised:
        assert p is not None, f"{policy.kind!r} declares randomised but logs no propensities"
        assert np.isfinite(p).all(), f"{policy.kind!r} logs non-finite propensities"
        assert ((p > 0) & (p <= 1 + 1e-9)).all(), f"{policy.kind!r}: propensities not in (0, 1]"
    else:
        assert p is None or np.all(p == 1), (
            f"{policy.kind!r} declares randomised = False but logs propensities other than 1"
        )
    for name in ("slot_propensities", "slate_propensities"):
        extra = getattr(decision, name)
        if extra is not None:
            known = extra[np.isfinite(extra)]
            assert ((known > 0) & (known <= 1 + 1e-9)).all(), f"{name} not in (0, 1]"


def check_policy(config: dict[str, object], surface: Surface) -> None:
    """Run the whole contract for one policy config on one surface; raise AssertionError."""
    cls, params = registry.parse_params(config)
    assert cls.Params.model_validate(cls(params).get_config()) == params, "config round trip"
    unset = cls(params)
    ctx = check_context(surface)
    try:
        unset.act(ctx.requests[0])
    except NotSetUpError:
        pass
    else:
        raise AssertionError("act before setup must raise NotSetUpError")
    if cls.needs_oracle:
        return
    logged: list[np.ndarray] = []
    first = _episode(cls, config, ctx, fits=1, propensities=logged)
    again = _episode(cls, config, ctx, fits=1)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b, err_msg="same seed must give the same actions")
    # A randomised policy that drew something (a propensity below 1) must draw differently
    # from another seed; with its randomisation switched off (ε = 0) it logs 1 and need not.
    if cls.randomised and any((p < 1).any() for p in logged):
        other = _episode(cls, config, ctx, fits=1, seed=124)
        assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True)), (
            f"{cls.kind!r} declares randomised, but another seed gives the same actions"
        )
    if cls.batch_fit:
        twice = _episode(cls, config, ctx, fits=2)
        for a, b in zip(first, twice, strict=True):
            np.testing.assert_array_equal(a, b, err_msg="fit twice must equal fit once")


def contract_cases() -> list[tuple[dict[str, object], Surface]]:
    """Every (config, surface) pair the contract suite runs."""
    cases: list[tuple[dict[str, object], Surface]] = []
    for cls in registry.available().values():
        provider = getattr(cls, "contract_configs", None)
        configs: list[dict[str, object]] = (
            provider() if callable(provider) else [{"kind": cls.kind}]
        )
        for config in configs:
            for surface in sorted(cls.surfaces, key=lambda s: s.value):
                cases.append((config, surface))
    return cases
