"""The contract every registered policy must pass, as named checks.

Each check takes a :class:`ContractCase` (one policy config on one surface it declares) and
raises :class:`AssertionError` naming what broke; ``tests/contract`` runs every applicable
check for every case, parametrised over (kind, surface, check), so a failure names the check.
The checks run on a small simulated world (:func:`check_context`):

``round_trip``
    ``Params.model_validate(policy.get_config())`` equals the params.
``not_set_up``
    ``act``, ``learn`` and ``fit`` before ``setup`` raise
    :class:`~recarena.policies.base.NotSetUpError`.
``shapes``
    over an episode of fit / act / learn calls, ``act`` returns actions of the right shape and
    range (the base class checks shapes on every call), distinct available items in a slate,
    eligible offers on campaigns, propensities in [0, 1] where given (per-slot and whole-slate
    propensities in (0, 1] where known).
``same_seed``
    a second episode from the same seed gives the same actions and propensities.
``different_seed``
    a policy that drew something (logged a propensity below 1) acts differently from another
    seed; a policy that declares ``randomised = False`` acts the same.
``refit_idempotence``
    (``batch_fit`` policies) fitting twice on the same history gives the same actions as
    fitting once: fit-time randomness must come from a seed fixed at setup, not from a stream
    that advances with each fit.
``declared_flags``
    the class attributes say what the policy does: a ``randomised`` policy logs a finite
    propensity in (0, 1] for every decision (off-policy estimators divide by it), on slates
    for every slot too; a deterministic one logs none or 1; a policy that is not
    ``contextual`` decides the same when the users' features are shuffled; ``online`` /
    ``batch_fit`` policies implement ``_learn`` / ``_fit``.
``pickle``
    a policy pickled mid-episode and restored acts exactly as the original from there on.
``reported_distribution``
    (policies that implement ``action_probabilities``) the reported distributions (per slot on
    slates) are distributions and give the policy's actions positive probability.
``logged_frequencies``
    (``randomised`` policies with ``per_decision_propensities``, on slates and banners; a
    campaign policy's contact ledger changes its state as it acts) the logged propensities
    are the probabilities the policy draws with: asked :data:`_REPEATS` more times from one
    state (after one act/learn round), each logged action (on slates each slot's item, in its
    slot) comes back as often as its propensity says — the count summed over users and slots
    within 4 binomial standard deviations of its expectation; where the
    propensities are estimates (two decisions of the same item from one state log different
    values) also within ±20% of it and, below, the upward bias of a Monte Carlo estimate that
    counts the user's own draw (at most 1/(1 + M), itself at most the smallest estimate).

The configs checked for a kind are :meth:`~recarena.policies.base.Policy.contract_configs`.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np

from recarena.contract import (
    Decision,
    DecisionRequest,
    EnvironmentSpec,
    Feedback,
    FeedbackKind,
    History,
    OracleView,
    Surface,
)
from recarena.policies import registry
from recarena.policies.base import NotSetUpError, Policy
from recarena.simulator.campaigns import offer_eligibility
from recarena.simulator.engine import environment_spec
from recarena.simulator.params import (
    DENSE_BEHAVIOUR,
    DENSE_POPULATION,
    BehaviourParams,
    CatalogueParams,
    OfferParams,
    PopulationParams,
    ScheduleParams,
    VariantParams,
    WorldParams,
)
from recarena.simulator.simulation import simulate
from recarena.simulator.world import World
from recarena.typing import FloatArray, IntArray

__all__ = [
    "CHECKS",
    "CheckContext",
    "ContractCase",
    "applicable_checks",
    "check_context",
    "check_policy",
    "contract_cases",
]

_SEED = 123
_OTHER_SEED = 124


@dataclass(frozen=True)
class CheckContext:
    """A small world, its spec for one surface, a few requests, a logged history and the
    simulator's oracle view (for the policy that declares ``needs_oracle``)."""

    surface: Surface
    world: World
    spec: EnvironmentSpec
    requests: tuple[DecisionRequest, ...]
    history: History
    oracle: OracleView


@dataclass(frozen=True)
class ContractCase:
    """One policy config on one surface; ``index`` is its position among the kind's
    :meth:`~recarena.policies.base.Policy.contract_configs`."""

    config: dict[str, object] = field(hash=False, compare=False)
    surface: Surface
    index: int
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", json.dumps(self.config, sort_keys=True))

    @property
    def kind(self) -> str:
        return str(self.config["kind"])

    @property
    def id(self) -> str:
        """``kind[index]-surface``, e.g. ``als[1]-slate``."""
        return f"{self.kind}[{self.index}]-{self.surface.value}"

    @property
    def policy_class(self) -> type[Policy]:
        return registry.parse_params(self.config)[0]


@dataclass(frozen=True)
class _Episode:
    """What a policy logged over the check requests: actions and propensities per request."""

    actions: tuple[IntArray, ...]
    propensities: tuple[FloatArray | None, ...]

    def drew_something(self) -> bool:
        """Whether some decision was drawn at random (logged propensity below 1)."""
        return any(p is not None and bool((p < 1).any()) for p in self.propensities)


def _world_params() -> WorldParams:
    # Denser than the calibrated defaults (the levels before docs/world.md's calibration:
    # twice the visits, five times the clicks), so 4 days of 300 users leave every policy
    # clicks and purchases to fit on.
    return WorldParams(
        population=PopulationParams(n_users=300, arrivals_per_day=5, **DENSE_POPULATION),
        catalogue=CatalogueParams(n_items=60, n_categories=4, new_items_per_day=1),
        behaviour=BehaviourParams(**DENSE_BEHAVIOUR),
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
    return CheckContext(surface, world, spec, tuple(requests), history, engine.oracle)


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


def _set_up(case: ContractCase, ctx: CheckContext, seed: int, fits: int) -> Policy:
    """The case's policy set up from ``seed`` (with the oracle when it needs it), fitted."""
    policy = registry.make(case.config)
    policy.setup(ctx.spec, np.random.default_rng(seed))
    if policy.needs_oracle:
        policy.attach_oracle(ctx.oracle)
    for _ in range(fits):
        policy.fit(ctx.history)
    return policy


def _shuffled_features(request: DecisionRequest) -> DecisionRequest:
    """The request with its users' feature rows reversed (other users' features)."""
    return replace(request, features=np.ascontiguousarray(request.features[::-1]))


def _act_and_learn(
    policy: Policy, ctx: CheckContext, requests: tuple[DecisionRequest, ...]
) -> _Episode:
    actions, propensities = [], []
    for request in requests:
        decision = policy.act(request)
        _check_values(ctx, request, decision)
        actions.append(decision.actions.copy())
        p = decision.propensities
        propensities.append(None if p is None else np.array(p, dtype=np.float64))
        policy.learn(_feedback(ctx, request, decision))
    return _Episode(tuple(actions), tuple(propensities))


def _run(
    case: ContractCase, *, seed: int = _SEED, fits: int = 1, shuffle: bool = False
) -> _Episode:
    """A fresh episode: set up, ``fits`` fits, then act and learn on every check request."""
    ctx = check_context(case.surface)
    policy = _set_up(case, ctx, seed, fits)
    requests = ctx.requests
    if shuffle:
        requests = tuple(_shuffled_features(r) for r in requests)
    return _act_and_learn(policy, ctx, requests)


@cache
def _reference(key: str, surface: Surface, index: int) -> _Episode:
    """The episode every comparison is against (seed 123, one fit), run once per case."""
    return _run(ContractCase(json.loads(key), surface, index))


def _reference_of(case: ContractCase) -> _Episode:
    return _reference(case.key, case.surface, case.index)


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
    for name, extra in (
        ("slot_propensities", decision.slot_propensities),
        ("slate_propensities", decision.slate_propensities),
    ):
        if extra is not None:  # probabilities too, NaN where unknown
            known = extra[np.isfinite(extra)]
            assert ((known > 0) & (known <= 1 + 1e-9)).all(), f"{name} not in (0, 1]"


def _assert_same(first: _Episode, second: _Episode, what: str) -> None:
    for a, b in zip(first.actions, second.actions, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=f"{what}: actions differ")
    for p, q in zip(first.propensities, second.propensities, strict=True):
        assert (p is None) == (q is None), f"{what}: propensities logged only once"
        if p is not None:
            np.testing.assert_array_equal(p, q, err_msg=f"{what}: propensities differ")


# ---------------------------------------------------------------------------- the checks
def check_round_trip(case: ContractCase) -> None:
    """``Params.model_validate(policy.get_config())`` equals the params."""
    cls, params = registry.parse_params(case.config)
    assert cls.Params.model_validate(cls(params).get_config()) == params, "config round trip"


def check_not_set_up(case: ContractCase) -> None:
    """Acting, learning or fitting before ``setup`` raises NotSetUpError."""
    ctx = check_context(case.surface)
    request = ctx.requests[0]
    decision = Decision(actions=np.zeros(request.size, dtype=np.int64))
    calls: dict[str, Callable[[Policy], object]] = {
        "act": lambda policy: policy.act(request),
        "learn": lambda policy: policy.learn(_feedback(ctx, request, decision)),
        "fit": lambda policy: policy.fit(ctx.history),
    }
    for name, call in calls.items():
        try:
            call(registry.make(case.config))
        except NotSetUpError:
            continue
        raise AssertionError(f"{name} before setup must raise NotSetUpError")


def check_shapes(case: ContractCase) -> None:
    """An episode's decisions have the declared shapes, ranges and distinct slate items."""
    episode = _reference_of(case)
    assert len(episode.actions) == len(check_context(case.surface).requests)


def check_same_seed(case: ContractCase) -> None:
    """The same seed gives the same actions and propensities."""
    _assert_same(_reference_of(case), _run(case), "same seed")


def check_different_seed(case: ContractCase) -> None:
    """A policy that drew something acts differently from another seed; a policy declared
    deterministic acts the same."""
    reference = _reference_of(case)
    cls = case.policy_class
    if not cls.randomised:
        _assert_same(reference, _run(case, seed=_OTHER_SEED), f"{cls.kind!r} is not randomised")
    elif reference.drew_something():
        other = _run(case, seed=_OTHER_SEED)
        assert any(
            not np.array_equal(a, b) for a, b in zip(reference.actions, other.actions, strict=True)
        ), f"{cls.kind!r} logs propensities below 1, but another seed gives the same actions"


def check_refit_idempotence(case: ContractCase) -> None:
    """Fitting twice on the same history gives the same actions as fitting once."""
    _assert_same(_reference_of(case), _run(case, fits=2), "fit twice vs once")


def _logged_slots(decision: Decision) -> FloatArray | None:
    """The logged propensity of every slot (B, k) on slates, of the action (B, 1) elsewhere."""
    slots = decision.slot_propensities
    if slots is not None:
        return np.asarray(slots, dtype=np.float64)
    p = decision.propensities
    return None if p is None else np.asarray(p, dtype=np.float64).reshape(-1, 1)


def check_declared_flags(case: ContractCase) -> None:
    """``randomised``, ``contextual``, ``online`` and ``batch_fit`` say what the policy does."""
    cls = case.policy_class
    if cls.online:
        assert cls._learn is not Policy._learn, f"{cls.kind!r} declares online but has no _learn"
    if cls.batch_fit:
        assert cls._fit is not Policy._fit, f"{cls.kind!r} declares batch_fit but has no _fit"
    reference = _reference_of(case)
    if cls.randomised and case.surface is Surface.SLATE:
        ctx = check_context(case.surface)
        decision = _set_up(case, ctx, _SEED, fits=1).act(ctx.requests[0])
        slots = decision.slot_propensities
        assert slots is not None, f"{cls.kind!r} declares randomised but logs no slot propensities"
        assert np.isfinite(slots).all(), f"{cls.kind!r} declares randomised but logs NaN slots"
        assert ((slots > 0) & (slots <= 1 + 1e-9)).all(), f"{cls.kind!r}: slot not in (0, 1]"
    for p in reference.propensities:
        if cls.randomised:
            assert p is not None, f"{cls.kind!r} declares randomised but logs no propensities"
            assert np.isfinite(p).all(), f"{cls.kind!r} declares randomised but logs NaN"
            assert ((p > 0) & (p <= 1 + 1e-9)).all(), f"{cls.kind!r}: propensity not in (0, 1]"
        else:
            assert p is None or bool(np.all(p == 1)), (
                f"{cls.kind!r} declares randomised = False but logs propensities other than 1"
            )
    if not cls.contextual:
        shuffled = _run(case, shuffle=True)
        _assert_same(reference, shuffled, f"{cls.kind!r} is not contextual, yet its features")


def check_pickle(case: ContractCase) -> None:
    """A policy pickled mid-episode acts like the original from there on."""
    ctx = check_context(case.surface)
    original = _set_up(case, ctx, _SEED, fits=1)
    _act_and_learn(original, ctx, ctx.requests[:1])
    oracle = getattr(original, "oracle_", None)
    if oracle is not None:  # the simulator's view is the engine's, not the policy's state
        del original.oracle_
    restored: Policy = pickle.loads(pickle.dumps(original))
    if oracle is not None:
        original.attach_oracle(oracle)
        restored.attach_oracle(oracle)
    rest = ctx.requests[1:]
    _assert_same(
        _act_and_learn(original, ctx, rest), _act_and_learn(restored, ctx, rest), "unpickled"
    )


def _check_distribution(policy: Policy, request: DecisionRequest, decision: Decision) -> None:
    """The reported distribution of ``request`` is one and gives ``decision`` positive mass."""
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


def check_reported_distribution(case: ContractCase) -> None:
    """The action distribution a policy reports is a distribution that contains its actions."""
    ctx = check_context(case.surface)
    policy = _set_up(case, ctx, _SEED, fits=1)
    for request in ctx.requests:
        decision = policy.act(request)
        _check_distribution(policy, request, decision)
        policy.learn(_feedback(ctx, request, decision))


#: Decisions asked again from one state by ``logged_frequencies``.
_REPEATS = 100


def check_logged_frequencies(case: ContractCase) -> None:
    """Logged propensities (per slot on slates) match how often the policy repeats its
    logged actions from one state."""
    ctx = check_context(case.surface)
    policy = _set_up(case, ctx, _SEED, fits=1)
    _act_and_learn(policy, ctx, ctx.requests[:1])  # some feedback, so the law is not uniform
    request = ctx.requests[1]
    first = policy.act(request)
    logged = _logged_slots(first)
    assert logged is not None, f"{policy.kind!r} declares randomised but logs no propensities"
    width = logged.shape[1]  # the logged slots (the first only when a slate logs no others)
    actions = first.actions.reshape(request.size, -1)[:, :width]
    hits = np.zeros(logged.shape)
    estimated = False
    for _ in range(_REPEATS):  # no learning in between: every decision has the same law
        again = policy.act(request)
        same = again.actions.reshape(request.size, -1)[:, :width] == actions
        hits += same
        repeat = _logged_slots(again)
        if repeat is not None and repeat.shape == logged.shape and same.any():
            estimated |= not np.allclose(repeat[same], logged[same], rtol=1e-9, atol=0.0)
    known = np.isfinite(logged)
    p = logged[known]
    expected = _REPEATS * float(p.sum())
    noise = 4 * float(np.sqrt(_REPEATS * (p * (1 - p)).sum())) + 1e-9
    low, high = expected - noise, expected + noise
    if estimated:  # Monte Carlo: ±20%, and an upward bias of at most 1/(1 + M) ≤ min p per slot
        low -= 0.2 * expected + _REPEATS * p.size * float(p.min())
        high += 0.2 * expected
    observed = float(hits[known].sum())
    assert low <= observed <= high, (
        f"{policy.kind!r}: the logged slots came back {observed:.0f} times in {_REPEATS} "
        f"repeats; their logged propensities say {low:.1f} to {high:.1f}"
        + (" (estimates)" if estimated else "")
    )


#: The named checks, in the order they run.
CHECKS: dict[str, Callable[[ContractCase], None]] = {
    "round_trip": check_round_trip,
    "not_set_up": check_not_set_up,
    "shapes": check_shapes,
    "same_seed": check_same_seed,
    "different_seed": check_different_seed,
    "refit_idempotence": check_refit_idempotence,
    "declared_flags": check_declared_flags,
    "pickle": check_pickle,
    "reported_distribution": check_reported_distribution,
    "logged_frequencies": check_logged_frequencies,
}


def applicable_checks(cls: type[Policy], surface: Surface | None = None) -> list[str]:
    """The checks that apply to a policy class (on ``surface``, or on any it declares):
    refit idempotence needs ``batch_fit``, the reported distribution
    ``action_probabilities``, the logged frequencies a ``randomised`` policy with
    ``per_decision_propensities`` on the slate or variant surface."""
    sessions = {Surface.SLATE, Surface.VARIANT}
    on_sessions = surface in sessions or (surface is None and bool(sessions & cls.surfaces))
    conditional = {
        "refit_idempotence": cls.batch_fit,
        "reported_distribution": cls.reports_probabilities(),
        "logged_frequencies": cls.randomised and cls.per_decision_propensities and on_sessions,
    }
    return [name for name in CHECKS if conditional.get(name, True)]


def contract_cases() -> list[ContractCase]:
    """Every (config, surface) case of every registered policy."""
    cases = []
    for cls in registry.available().values():
        for index, config in enumerate(cls.contract_configs()):
            for surface in sorted(cls.surfaces, key=lambda s: s.value):
                cases.append(ContractCase(config, surface, index))
    return cases


def check_policy(config: dict[str, object], surface: Surface) -> None:
    """Run every applicable check for one config on one surface; raise AssertionError."""
    case = ContractCase(config, surface, 0)
    for name in applicable_checks(case.policy_class, surface):
        CHECKS[name](case)
