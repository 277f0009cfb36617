"""The world: users, items, offers and variants as struct-of-arrays (no per-user objects).

A :class:`World` is static: everything that does not change while the simulation runs,
including users who will arrive later (with their ``join_time``) and items released later
(with their ``release_time``). Pre-drawing arrivals makes the world a pure function of the
seed, so every arm of a comparison meets exactly the same people. What changes over time
(satisfaction, alive flags, drifting preferences) lives in the engine's state.

A world can be generated from :class:`~recarena.simulator.params.WorldParams` with
:func:`generate_world`, or built directly from arrays (e.g. calibrated from a real log).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from recarena.simulator import kernels
from recarena.simulator.params import WorldParams
from recarena.typing import Float32Array, FloatArray, IntArray

__all__ = [
    "RESPONSE_TYPES",
    "Items",
    "Offers",
    "Users",
    "Variants",
    "World",
    "generate_world",
    "mean_ctr_intercept",
]


#: sd of ν_u, the user's unobservable part of a continuous treatment effect.
CATE_LATENT_SD = 0.5
#: Latent campaign-response types, in the order of their integer codes.
RESPONSE_TYPES = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")


@dataclass
class Users:
    """Users as arrays indexed by user id (0 … n−1).

    Attributes
    ----------
    segment : (n,) int — latent segment z_u
    numeric : (n, Fn) float32 — numeric observable features (standardised scale)
    categorical : (n, Fc) int16 — categorical observable features (level codes)
    preference : (n, d) float32 — θ_u at join time
    activity : (n,) float — base sessions per day λ_u
    price_sensitivity : (n,) float — ρ_u
    join_time : (n,) float — day the user arrives (0 for the initial population)
    response_type : (n,) int8 — index into :data:`RESPONSE_TYPES`
    tolerance : (n,) float — offset of the user's satisfaction baseline, r₀,u = r₀ + tolerance
    cate_latent : (n,) float — ν_u, the unobservable part of a continuous treatment effect
    """

    segment: IntArray
    numeric: Float32Array
    categorical: NDArray[np.int16]
    preference: Float32Array
    activity: FloatArray
    price_sensitivity: FloatArray
    join_time: FloatArray
    response_type: NDArray[np.int8]
    tolerance: FloatArray = field(default_factory=lambda: np.zeros(0))
    cate_latent: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = self.segment.shape[0]
        if self.tolerance.shape[0] != n:  # not given: everyone at r₀
            self.tolerance = np.zeros(n)
        if self.cate_latent.shape[0] != n:
            self.cate_latent = np.zeros(n)

    def __len__(self) -> int:
        return int(self.segment.shape[0])


@dataclass
class Items:
    """Items as arrays indexed by item id.

    Attributes
    ----------
    vector : (m, d) float32 — latent φ_i
    category : (m,) int
    popularity : (m,) float — b_i
    price : (m,) float
    margin : (m,) float in [0, 1]
    release_time : (m,) float — day the item goes on sale
    text : tuple of m descriptions
    quality : (m,) float in [0, 1] — q_i, how good consuming the item turns out to be
    clickbait : (m,) bool — high appeal (b_i raised), low quality
    length : (m,) float > 0 — L_i, minutes it takes to consume the item (time budget)
    """

    vector: Float32Array
    category: IntArray
    popularity: FloatArray
    price: FloatArray
    margin: FloatArray
    release_time: FloatArray
    text: tuple[str, ...]
    quality: FloatArray = field(default_factory=lambda: np.zeros(0))
    clickbait: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    length: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        m = self.category.shape[0]
        if self.quality.shape[0] != m:  # not given: every item of middling quality
            self.quality = np.full(m, 0.5)
        if self.clickbait.shape[0] != m:
            self.clickbait = np.zeros(m, dtype=bool)
        if self.length.shape[0] != m:  # not given: every item takes the default 5 minutes
            self.length = np.full(m, 5.0)

    def __len__(self) -> int:
        return int(self.category.shape[0])


@dataclass
class Offers:
    """Campaign offers and the per-user response model (see :class:`OfferParams`).

    ``base_logit`` (O,), ``response_weights`` (O, F) and ``effect_weights`` (O, F) act on the
    encoded feature matrix; ``effect`` (O,) is the persuadable effect scale in logits.
    ``cate`` names each offer's effect model (types, linear, nonlinear) and ``cate_scale``
    its heterogeneity scale; the ``session_*_lift`` arrays couple a contact to the session
    surface (see :mod:`recarena.simulator.campaigns`).
    """

    names: tuple[str, ...]
    value: FloatArray
    contact_cost: FloatArray
    conversion_cost: FloatArray
    base_logit: FloatArray
    response_weights: FloatArray
    effect: FloatArray
    effect_weights: FloatArray
    retention_effect: FloatArray
    retention_days: FloatArray
    eligibility: tuple[tuple[int, float, float] | None, ...]
    cate: tuple[str, ...] = ()
    cate_scale: FloatArray = field(default_factory=lambda: np.zeros(0))
    session_conversion_lift: FloatArray = field(default_factory=lambda: np.zeros(0))
    session_activity_lift: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.cate) != n:  # not given: effects by response type, no coupling
            self.cate = ("types",) * n
        for name in ("cate_scale", "session_conversion_lift", "session_activity_lift"):
            if getattr(self, name).shape[0] != n:
                setattr(self, name, np.zeros(n))

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class Variants:
    """Variants for the variant surface: P(click) = σ(logit_v + w_v·x_u)."""

    names: tuple[str, ...]
    logit: FloatArray
    logit_after_shift: FloatArray
    weights: FloatArray
    shift_day: float

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class World:
    """Users, items, offers and variants, plus the observable feature encoding."""

    users: Users
    items: Items
    offers: Offers
    variants: Variants
    numeric_names: tuple[str, ...]
    categorical_levels: dict[str, int]
    features: Float32Array = field(init=False, repr=False)
    feature_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        _check_finite(self)
        self.features, self.feature_names = encode_features(
            self.users.numeric, self.users.categorical, self.numeric_names, self.categorical_levels
        )

    @property
    def n_users(self) -> int:
        """Users including later arrivals."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Items including later releases."""
        return len(self.items)


def _check_finite(world: World) -> None:
    """Reject NaN (and infinite values where they make no sense) in a world built from arrays,
    naming the array, instead of letting them surface deep inside the engine."""
    arrays: dict[str, NDArray[np.floating[Any]]] = {
        "users.numeric": world.users.numeric,
        "users.preference": world.users.preference,
        "users.activity": world.users.activity,
        "users.price_sensitivity": world.users.price_sensitivity,
        "users.join_time": world.users.join_time,
        "items.vector": world.items.vector,
        "items.popularity": world.items.popularity,
        "items.price": world.items.price,
        "items.margin": world.items.margin,
        "items.release_time": world.items.release_time,
        "items.quality": world.items.quality,
        "items.length": world.items.length,
        "users.tolerance": world.users.tolerance,
    }
    for name, values in arrays.items():
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(
                f"world array {name} has {int(bad.sum())} non-finite values (NaN or inf); "
                "every entry must be a finite number"
            )
    if (world.items.price <= 0).any():
        raise ValueError("world array items.price must be > 0 (log price enters the utility)")
    if (world.items.length <= 0).any():
        raise ValueError("world array items.length must be > 0 (minutes to consume an item)")
    if (world.users.activity <= 0).any():
        raise ValueError("world array users.activity must be > 0 (sessions per day)")


def encode_features(
    numeric: Float32Array,
    categorical: NDArray[np.int16],
    numeric_names: tuple[str, ...],
    levels: dict[str, int],
) -> tuple[Float32Array, tuple[str, ...]]:
    """Observable feature matrix: numeric columns as they are, categoricals one-hot."""
    n = numeric.shape[0]
    blocks: list[Float32Array] = [numeric.astype(np.float32, copy=False)]
    names = list(numeric_names)
    for j, (name, n_levels) in enumerate(levels.items()):
        onehot = np.zeros((n, n_levels), dtype=np.float32)
        onehot[np.arange(n), categorical[:, j].astype(np.int64)] = 1.0
        blocks.append(onehot)
        names.extend(f"{name}={level}" for level in range(n_levels))
    return np.ascontiguousarray(np.hstack(blocks)), tuple(names)


def _lognormal(rng: np.random.Generator, mean: float, sd: float, n: int) -> FloatArray:
    """Log-normal with the given *mean* (not median): μ = log(mean) − sd²/2."""
    if mean == 0:
        return np.zeros(n)
    return rng.lognormal(np.log(mean) - sd**2 / 2, sd, n)


def _poisson_times(rng: np.random.Generator, rate: float, horizon: float) -> FloatArray:
    """Event times of a homogeneous Poisson process on (0, horizon]."""
    count = rng.poisson(rate * horizon) if rate > 0 else 0
    return np.sort(rng.uniform(0.0, horizon, count))


def _calibrated_types(
    rng: np.random.Generator, scores: FloatArray, shares: list[float], iterations: int = 30
) -> NDArray[np.int8]:
    """Assign response types by Gumbel-max on ``log(share) + scores + bias``.

    The biases are adjusted by fixed-point iteration ``bias += log(target / realised)`` on
    fixed Gumbel draws, so realised shares match the configured ones closely while the
    type stays predictable from the features that enter ``scores``.
    """
    n, k = scores.shape
    target = np.asarray(shares, dtype=float)
    gumbel = rng.gumbel(size=(n, k))
    with np.errstate(divide="ignore"):
        base = np.log(target)
    bias = np.zeros(k)
    types = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        types = np.argmax(base + scores + bias + gumbel, axis=1)
        realised = np.bincount(types, minlength=k) / max(n, 1)
        live = target > 0
        bias[live] += np.log(target[live] / np.maximum(realised[live], 0.5 / max(n, 1)))
    return types.astype(np.int8)


def _generate_users(
    params: WorldParams, rng: np.random.Generator, horizon: float, latent_dim: int
) -> tuple[Users, Float32Array]:
    pop = params.population
    n_seg = pop.n_segments
    shares = np.asarray(pop.segment_shares or [1.0 / n_seg] * n_seg)
    n_num = len(pop.numeric_features)
    levels = list(pop.categorical_features.values())
    # Segment-level parameters first, so their draws do not depend on the population size.
    seg_means = rng.normal(0.0, pop.segment_separation, (n_seg, n_num))
    seg_cats = [rng.dirichlet(np.full(lv, pop.categorical_concentration), n_seg) for lv in levels]
    centroids = rng.normal(0.0, 1.0, (n_seg, latent_dim))
    join = np.concatenate(
        [np.zeros(pop.n_users), _poisson_times(rng, pop.arrivals_per_day, horizon)]
    )
    n = int(join.shape[0])
    segment = rng.choice(n_seg, size=n, p=shares)
    numeric = (seg_means[segment] + rng.normal(0.0, 1.0, (n, n_num))).astype(np.float32)
    categorical = np.zeros((n, len(levels)), dtype=np.int16)
    for j, probs in enumerate(seg_cats):
        cum = np.cumsum(probs, axis=1)[segment]
        categorical[:, j] = (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, levels[j] - 1)
    preference = centroids[segment] + rng.normal(0.0, pop.preference_noise, (n, latent_dim))
    activity = _lognormal(rng, pop.activity_mean, pop.activity_dispersion, n)
    price_sens = _lognormal(rng, pop.price_sensitivity_mean, pop.price_sensitivity_dispersion, n)
    users = Users(
        segment=segment.astype(np.int64),
        numeric=numeric,
        categorical=categorical,
        preference=preference.astype(np.float32),
        activity=activity,
        price_sensitivity=price_sens,
        join_time=join,
        response_type=np.zeros(n, dtype=np.int8),
    )
    features, _ = encode_features(
        numeric, categorical, tuple(pop.numeric_features), dict(pop.categorical_features)
    )
    type_weights = rng.normal(0.0, 1.0, (features.shape[1], len(RESPONSE_TYPES)))
    type_weights *= pop.response_type_feature_strength / np.sqrt(max(features.shape[1], 1))
    users.response_type = _calibrated_types(
        rng, features.astype(np.float64) @ type_weights, pop.response_types.as_list()
    )
    # Drawn last, so that worlds without them keep every other draw.
    if pop.tolerance_sd > 0:
        users.tolerance = pop.tolerance_sd * rng.standard_normal(n)
    if any(o.cate != "types" for o in params.offers):
        users.cate_latent = CATE_LATENT_SD * rng.standard_normal(n)
    return users, features


_SYLLABLES = (
    "ka", "lo", "mi", "ren", "tu", "sa", "vo", "ni", "be", "dor", "fa", "gi", "hu", "ja",
    "ke", "lum", "mo", "ra", "si", "te", "ul", "ve", "xo", "ze",
)  # fmt: skip


def _word(rng: np.random.Generator, used: set[str]) -> str:
    """A new pronounceable pseudo-word (2–3 syllables), distinct from ``used``."""
    while True:
        n_syl = int(rng.integers(2, 4))
        word = "".join(_SYLLABLES[int(i)] for i in rng.integers(0, len(_SYLLABLES), n_syl))
        if word not in used:
            used.add(word)
            return word


def _descriptions(
    rng: np.random.Generator,
    vectors: Float32Array,
    category: IntArray,
    n_categories: int,
    n_words: int,
) -> tuple[str, ...]:
    """Item descriptions whose words carry signal about category and latent vector.

    Each category owns 4 words and each latent dimension owns a "positive" and a "negative"
    pool of 3 words. A description takes ⌈n/4⌉ category words, then words from the pools of
    dimensions drawn with probability ∝ |φ_id| (pool chosen by the sign of φ_id), and one
    filler word from a shared pool (noise).
    """
    used: set[str] = set()
    d = vectors.shape[1]
    cat_words = [[_word(rng, used) for _ in range(4)] for _ in range(n_categories)]
    pos_words = [[_word(rng, used) for _ in range(3)] for _ in range(d)]
    neg_words = [[_word(rng, used) for _ in range(3)] for _ in range(d)]
    filler = [_word(rng, used) for _ in range(20)]
    n_cat_words = max(1, (n_words + 3) // 4)
    n_dim_words = max(0, n_words - n_cat_words - 1)
    weights = np.abs(vectors.astype(np.float64)) + 1e-9
    weights /= weights.sum(axis=1, keepdims=True)
    texts = []
    for i in range(vectors.shape[0]):
        words = [cat_words[category[i]][int(j)] for j in rng.integers(0, 4, n_cat_words)]
        for dim in rng.choice(d, size=n_dim_words, p=weights[i]):
            pool = pos_words[dim] if vectors[i, dim] >= 0 else neg_words[dim]
            words.append(pool[int(rng.integers(0, 3))])
        if n_words > n_cat_words:
            words.append(filler[int(rng.integers(0, len(filler)))])
        texts.append(" ".join(words[:n_words]))
    return tuple(texts)


def _generate_items(params: WorldParams, rng: np.random.Generator, horizon: float) -> Items:
    cat = params.catalogue
    centroids = rng.normal(0.0, cat.category_spread, (cat.n_categories, cat.latent_dim))
    release = np.concatenate(
        [np.zeros(cat.n_items), _poisson_times(rng, cat.new_items_per_day, horizon)]
    )
    m = int(release.shape[0])
    category = rng.integers(0, cat.n_categories, m)
    vector = (centroids[category] + rng.normal(0.0, cat.item_noise, (m, cat.latent_dim))).astype(
        np.float32
    )
    items = Items(
        vector=vector,
        category=category.astype(np.int64),
        popularity=rng.normal(0.0, cat.popularity_sd, m),
        price=rng.lognormal(cat.price_log_mean, cat.price_log_sd, m),
        margin=rng.uniform(cat.margin_low, cat.margin_high, m),
        release_time=release,
        text=_descriptions(rng, vector, category, cat.n_categories, cat.description_words),
    )
    # q_i = σ(ζ_i), ζ_i ~ N(μ_q, σ_q²); a clickbait item has q_i = q_cb and b_i + Δ_cb.
    # Quality and clickbait are drawn after everything else, so they never shift the draws of
    # the attributes above (worlds from before they existed stay the same).
    items.quality = kernels.sigmoids(rng.normal(cat.quality_logit_mean, cat.quality_logit_sd, m))
    items.clickbait = rng.random(m) < cat.clickbait_share
    items.quality[items.clickbait] = cat.clickbait_quality
    items.popularity[items.clickbait] += cat.clickbait_appeal
    # L_i ~ LogNormal with mean item_length_minutes, drawn last for the same reason.
    items.length = _lognormal(rng, cat.item_length_minutes, cat.item_length_sd, m)
    return items


def _generate_offers(params: WorldParams, rng: np.random.Generator, n_features: int) -> Offers:
    offers = params.offers
    n_o = len(offers)
    scale = 1.0 / np.sqrt(max(n_features, 1))
    resp = rng.normal(0.0, 1.0, (n_o, n_features)) * scale
    eff = rng.normal(0.0, 1.0, (n_o, n_features)) * scale
    numeric = list(params.population.numeric_features)
    rules: list[tuple[int, float, float] | None] = []
    for o in offers:
        rule = o.eligibility
        if rule is None:
            rules.append(None)
            continue
        low = -np.inf if rule.min is None else rule.min
        high = np.inf if rule.max is None else rule.max
        rules.append((numeric.index(rule.feature), low, high))
    return Offers(
        names=tuple(o.name for o in offers),
        value=np.array([o.value for o in offers], dtype=float),
        contact_cost=np.array([o.contact_cost for o in offers], dtype=float),
        conversion_cost=np.array([o.conversion_cost for o in offers], dtype=float),
        base_logit=np.array([np.log(o.base_rate / (1 - o.base_rate)) for o in offers]),
        response_weights=resp
        * np.array([[o.response_heterogeneity] for o in offers]).reshape(n_o, 1),
        effect=np.array([o.effect for o in offers], dtype=float),
        effect_weights=eff * np.array([o.effect_heterogeneity for o in offers]).reshape(n_o, 1),
        retention_effect=np.array([o.retention_effect for o in offers], dtype=float),
        retention_days=np.array([o.retention_days for o in offers], dtype=float),
        eligibility=tuple(rules),
        cate=tuple(o.cate for o in offers),
        cate_scale=np.array([o.cate_scale for o in offers], dtype=float),
        session_conversion_lift=np.array([o.session_conversion_lift for o in offers], dtype=float),
        session_activity_lift=np.array([o.session_activity_lift for o in offers], dtype=float),
    )


def mean_ctr_intercept(ctr: float, scores: FloatArray) -> float:
    r"""The intercept :math:`a` whose population mean click probability is ``ctr``.

    Solves :math:`rac1N \sum_u \sigma(a + s_u) = 	ext{ctr}` for the users' feature scores
    :math:`s_u = h_v w_v \cdot x_u` (Brent's method; the left side increases in :math:`a`).
    Without heterogeneity (all :math:`s_u = 0`) :math:`a = \operatorname{logit}(	ext{ctr})`.
    """
    s = np.asarray(scores, dtype=np.float64)
    start = float(np.log(ctr / (1.0 - ctr)))
    if s.size == 0 or not np.any(s):
        return start

    def gap(a: float) -> float:
        return float(np.mean(special.expit(a + s))) - ctr

    low, high = start - float(s.max()) - 1.0, start - float(s.min()) + 1.0
    return float(optimize.brentq(gap, low, high, xtol=1e-12, rtol=1e-14))


def _generate_variants(
    params: WorldParams, rng: np.random.Generator, features: Float32Array
) -> Variants:
    variants = params.variants
    n_features = features.shape[1]
    weights = rng.normal(0.0, 1.0, (len(variants), n_features)) / np.sqrt(max(n_features, 1))
    weights *= np.array([v.heterogeneity for v in variants]).reshape(len(variants), 1)
    scores = features.astype(np.float64) @ weights.T  # (users, variants)

    def intercept(k: int, ctr: float | None) -> float:
        return mean_ctr_intercept(variants[k].ctr if ctr is None else ctr, scores[:, k])

    return Variants(
        names=tuple(v.name for v in variants),
        logit=np.array([intercept(k, None) for k in range(len(variants))]),
        logit_after_shift=np.array(
            [intercept(k, v.ctr_after_shift) for k, v in enumerate(variants)]
        ),
        weights=weights,
        shift_day=float("inf") if params.shift_day is None else params.shift_day,
    )


def generate_world(params: WorldParams, seed: np.random.SeedSequence, horizon: float) -> World:
    """Draw a world from its recipe.

    Parameters
    ----------
    params
        The recipe.
    seed
        The run's ``"world"`` seed sequence. Users, items, offers and variants are drawn from
        independent children of it, so changing the catalogue does not change the users.
    horizon
        Length of the run in days: arrivals and item releases are drawn on (0, horizon].
    """
    seeds = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key).spawn(4)
    user_rng, item_rng, offer_rng, variant_rng = (np.random.default_rng(s) for s in seeds)
    users, features = _generate_users(params, user_rng, horizon, params.catalogue.latent_dim)
    items = _generate_items(params, item_rng, horizon)
    n_features = features.shape[1]
    return World(
        users=users,
        items=items,
        offers=_generate_offers(params, offer_rng, n_features),
        variants=_generate_variants(params, variant_rng, features),
        numeric_names=tuple(params.population.numeric_features),
        categorical_levels=dict(params.population.categorical_features),
    )
