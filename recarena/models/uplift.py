r"""Uplift (conditional average treatment effect) learners on arrays.

Every learner estimates the conditional average treatment effect (CATE)

.. math:: \tau(x) = \mathbb{E}[Y(1) - Y(0) \mid X = x] = \mu_1(x) - \mu_0(x),

from a sample ``(X, t, y)``: covariates ``X`` of shape ``(n, d)``, a binary treatment ``t`` in
{0, 1} and an outcome ``y`` (binary 0/1 or real). Under unconfoundedness and overlap,
:math:`\mu_w(x) = \mathbb{E}[Y \mid X = x, T = w]`.

The learners follow scikit-learn conventions: the constructor only stores its arguments,
``fit(X, t, y)`` returns ``self``, everything learned ends in ``_``, predicting before ``fit``
raises :class:`sklearn.exceptions.NotFittedError`, and refitting on the same data with the same
integer ``random_state`` gives the same predictions. Base models are any scikit-learn style
estimators; they are copied with :func:`sklearn.base.clone` and never modified in place.

A *classifier* base model estimates :math:`\mu_w(x) = P(Y = 1 \mid X = x, T = w)` through
``predict_proba`` and requires a binary outcome; a *regressor* estimates the conditional mean
through ``predict`` and accepts any real outcome. When the base model is left at ``None`` the
learner picks :class:`~sklearn.linear_model.LogisticRegression` for a binary outcome and
:class:`~sklearn.linear_model.LinearRegression` otherwise.

Learners
--------
:class:`SLearner`
    One model on ``[X, t]`` (optionally ``[X, t, t·X]``).
:class:`TLearner`
    One model per arm.
:class:`XLearner`
    Künzel et al. (2019): imputed effects, two effect models, propensity-weighted blend.
:class:`ClassTransformation`
    Jaskowski & Jaroszewicz (2012) class-variable transformation via :mod:`sklift`; valid for
    a 50/50 assignment only.
:class:`TransformedOutcome`
    Athey & Imbens (2015) propensity-corrected transformed outcome; valid for any assignment
    rate with a correct propensity.

References
----------
.. [1] S. R. Künzel, J. S. Sekhon, P. J. Bickel and B. Yu, "Metalearners for estimating
   heterogeneous treatment effects using machine learning", PNAS 116(10):4156–4165, 2019.
.. [2] M. Jaskowski and S. Jaroszewicz, "Uplift modeling for clinical trial data", ICML 2012
   Workshop on Clinical Data Analysis.
.. [3] S. Athey and G. W. Imbens, "Machine learning methods for estimating heterogeneous causal
   effects", arXiv:1504.01132, 2015 (published as "Recursive partitioning for heterogeneous
   causal effects", PNAS 113(27):7353–7360, 2016).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d
from sklift.models import ClassTransformation as _SkliftClassTransformation

from recarena.typing import FloatArray

__all__ = [
    "ClassTransformation",
    "SLearner",
    "TLearner",
    "TransformedOutcome",
    "XLearner",
]


# Share of treated units outside which the class transformation is flagged as biased.
_BALANCE_TOLERANCE = 0.05


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _check_X(X: ArrayLike) -> FloatArray:
    out: FloatArray = check_array(X, dtype=np.float64, ensure_2d=True)
    return out


def _check_fit_inputs(
    X: ArrayLike, t: ArrayLike, y: ArrayLike
) -> tuple[FloatArray, NDArray[np.int64], FloatArray]:
    """Validate ``(X, t, y)``: 2-D finite X, binary t with both arms present, finite 1-D y."""
    Xa = _check_X(X)
    ta = column_or_1d(np.asarray(t))
    ya = column_or_1d(np.asarray(y)).astype(np.float64)
    if not (len(Xa) == len(ta) == len(ya)):
        raise ValueError(
            f"X, t and y must have the same length, got {len(Xa)}, {len(ta)} and {len(ya)}"
        )
    if not np.isin(ta, (0, 1)).all():
        raise ValueError("treatment t must contain only 0 and 1")
    t_int = ta.astype(np.int64)
    if t_int.min() == t_int.max():
        raise ValueError("both a treated (t=1) and a control (t=0) unit are needed to fit")
    if not np.isfinite(ya).all():
        raise ValueError("outcome y must be finite")
    return Xa, t_int, ya


def _is_binary(y: FloatArray) -> bool:
    return bool(np.isin(y, (0.0, 1.0)).all())


def _child_seeds(random_state: int | None, k: int) -> list[int | None]:
    """``k`` independent integer seeds derived from ``random_state`` (or ``None``s)."""
    if random_state is None:
        return [None] * k
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise TypeError(
            f"random_state must be an int or None, got {type(random_state).__name__}; "
            "an int keeps repeated fits identical"
        )
    gen = np.random.default_rng(int(random_state))
    return [int(s) for s in gen.integers(0, 2**31 - 1, size=k)]


def _prepare(template: Any, seed: int | None) -> Any:
    """Clone ``template`` and set every ``random_state`` parameter (nested too) to ``seed``."""
    est = clone(template)
    if seed is not None and hasattr(est, "get_params"):
        keys = [
            key
            for key in est.get_params(deep=True)
            if key == "random_state" or key.endswith("__random_state")
        ]
        if keys:
            est.set_params(**dict.fromkeys(keys, seed))
    return est


def _default_outcome_model(binary: bool) -> Any:
    return LogisticRegression(max_iter=1000) if binary else LinearRegression()


def _fit_mean_model(template: Any, X: FloatArray, y: FloatArray, seed: int | None) -> Any:
    """Fit a conditional-mean model: a classifier (for P(y=1|x)) or a regressor.

    A classifier fitted to a sample holding a single class is replaced by a
    :class:`~sklearn.dummy.DummyClassifier` (the empirical rate), with a warning, because most
    classifiers refuse to fit one class.
    """
    est = _prepare(template, seed)
    if is_classifier(est):
        if not _is_binary(y):
            raise ValueError(
                f"{type(est).__name__} is a classifier and needs a binary 0/1 outcome; "
                "pass a regressor for a real-valued outcome"
            )
        if np.unique(y).size < 2:
            warnings.warn(
                f"only one outcome class ({y[0]:g}) in a fitting subsample; "
                "using its empirical rate as a constant model",
                UserWarning,
                stacklevel=3,
            )
            est = DummyClassifier(strategy="prior")
    est.fit(X, y)
    return est


def _predict_mean(est: Any, X: FloatArray) -> FloatArray:
    """Conditional mean: P(y=1|x) for a classifier, ``predict`` for a regressor."""
    if is_classifier(est):
        proba = np.asarray(est.predict_proba(X), dtype=np.float64)
        classes = np.asarray(est.classes_)
        hit = np.flatnonzero(classes == 1)
        if hit.size == 0:
            return np.zeros(X.shape[0])
        return proba[:, int(hit[0])]
    return np.asarray(est.predict(X), dtype=np.float64).reshape(-1)


def _check_regressor(est: Any, role: str) -> None:
    if is_classifier(est):
        raise ValueError(f"the {role} must be a regressor, got classifier {type(est).__name__}")


def _check_propensity_option(propensity: float | str) -> None:
    if isinstance(propensity, str):
        if propensity not in ("model", "mean"):
            raise ValueError(f"propensity must be 'model', 'mean' or a float, got {propensity!r}")
    elif not 0.0 < float(propensity) < 1.0:
        raise ValueError(f"a constant propensity must lie in (0, 1), got {propensity}")


class _UpliftBase(BaseEstimator, ABC):
    """Shared validation for prediction."""

    n_features_in_: int

    def _check_predict_X(self, X: ArrayLike) -> FloatArray:
        check_is_fitted(self)
        Xa = _check_X(X)
        if Xa.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {Xa.shape[1]} features, but {type(self).__name__} was fitted with "
                f"{self.n_features_in_}"
            )
        return Xa

    @abstractmethod
    def predict_uplift(self, X: ArrayLike) -> FloatArray:
        """Estimated treatment effect τ̂(x) for every row of ``X``, shape ``(n,)``."""


# --------------------------------------------------------------------------------------------
# S- and T-learners
# --------------------------------------------------------------------------------------------


class SLearner(_UpliftBase):
    r"""Single-model learner: the treatment is one more feature.

    One model :math:`f` is fitted on :math:`[x, t]` (or, with ``interactions=True``, on
    :math:`[x, t, t\,x]`), and

    .. math:: \hat\mu_w(x) = f([x, w]), \qquad \hat\tau(x) = f([x, 1]) - f([x, 0]).

    Without interactions a linear base model forces a constant effect (on the link scale for a
    logistic model); the interaction columns let a linear model express an effect linear in
    :math:`x`. Regularised base models shrink the treatment terms towards zero, which is the
    S-learner's known bias towards no effect (Künzel et al., 2019).

    Parameters
    ----------
    estimator : estimator or None, default=None
        Base model, cloned before fitting. A classifier is used through ``predict_proba`` and
        needs a binary outcome. ``None`` picks ``LogisticRegression(max_iter=1000)`` for a
        binary outcome and ``LinearRegression()`` otherwise.
    interactions : bool, default=False
        Append the treatment × feature products :math:`t\,x` to the design.
    random_state : int or None, default=None
        Seed written into the clone's ``random_state`` parameter(s), if it has any.

    Attributes
    ----------
    model_ : estimator
        The fitted base model.
    outcome_is_binary_ : bool
        Whether the training outcome was binary.
    n_features_in_ : int
        Number of covariates seen in ``fit``.

    References
    ----------
    S. R. Künzel, J. S. Sekhon, P. J. Bickel and B. Yu, PNAS 116(10):4156–4165, 2019.
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        interactions: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.interactions = interactions
        self.random_state = random_state

    def _design(self, X: FloatArray, t: FloatArray) -> FloatArray:
        cols = [X, t[:, None]]
        if self.interactions:
            cols.append(X * t[:, None])
        return np.hstack(cols)

    def fit(self, X: ArrayLike, t: ArrayLike, y: ArrayLike) -> Self:
        """Fit the single model on ``[X, t]`` (plus ``t·X`` with interactions); return self."""
        Xa, ta, ya = _check_fit_inputs(X, t, y)
        (seed,) = _child_seeds(self.random_state, 1)
        binary = _is_binary(ya)
        template = self.estimator if self.estimator is not None else _default_outcome_model(binary)
        self.model_ = _fit_mean_model(template, self._design(Xa, ta.astype(np.float64)), ya, seed)
        self.outcome_is_binary_ = binary
        self.n_features_in_ = Xa.shape[1]
        return self

    def predict_outcomes(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Estimated potential-outcome means ``(mu0, mu1)``, each of shape ``(n,)``."""
        Xa = self._check_predict_X(X)
        n = Xa.shape[0]
        mu0 = _predict_mean(self.model_, self._design(Xa, np.zeros(n)))
        mu1 = _predict_mean(self.model_, self._design(Xa, np.ones(n)))
        return mu0, mu1

    def predict_uplift(self, X: ArrayLike) -> FloatArray:
        """Estimated effect ``mu1(x) − mu0(x)``, shape ``(n,)``."""
        mu0, mu1 = self.predict_outcomes(X)
        return mu1 - mu0


class TLearner(_UpliftBase):
    r"""Two-model learner: one outcome model per arm.

    .. math:: \hat\mu_0 = f_0 \text{ fitted on } \{t=0\}, \quad
              \hat\mu_1 = f_1 \text{ fitted on } \{t=1\}, \quad
              \hat\tau(x) = \hat\mu_1(x) - \hat\mu_0(x).

    Parameters
    ----------
    estimator : estimator or None, default=None
        Base model for both arms (cloned twice). ``None`` picks ``LogisticRegression`` for a
        binary outcome and ``LinearRegression`` otherwise.
    random_state : int or None, default=None
        Seed from which each clone's ``random_state`` is derived.

    Attributes
    ----------
    model_control_, model_treatment_ : estimator
        Fitted models for :math:`\mu_0` and :math:`\mu_1`.
    outcome_is_binary_ : bool
    n_features_in_ : int

    References
    ----------
    S. R. Künzel, J. S. Sekhon, P. J. Bickel and B. Yu, PNAS 116(10):4156–4165, 2019.
    """

    def __init__(self, estimator: Any = None, *, random_state: int | None = None) -> None:
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X: ArrayLike, t: ArrayLike, y: ArrayLike) -> Self:
        """Fit one outcome model per arm; return self."""
        Xa, ta, ya = _check_fit_inputs(X, t, y)
        seed0, seed1 = _child_seeds(self.random_state, 2)
        binary = _is_binary(ya)
        template = self.estimator if self.estimator is not None else _default_outcome_model(binary)
        c, tr = ta == 0, ta == 1
        self.model_control_ = _fit_mean_model(template, Xa[c], ya[c], seed0)
        self.model_treatment_ = _fit_mean_model(template, Xa[tr], ya[tr], seed1)
        self.outcome_is_binary_ = binary
        self.n_features_in_ = Xa.shape[1]
        return self

    def predict_outcomes(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Estimated potential-outcome means ``(mu0, mu1)``, each of shape ``(n,)``."""
        Xa = self._check_predict_X(X)
        return _predict_mean(self.model_control_, Xa), _predict_mean(self.model_treatment_, Xa)

    def predict_uplift(self, X: ArrayLike) -> FloatArray:
        """Estimated effect ``mu1(x) − mu0(x)``, shape ``(n,)``."""
        mu0, mu1 = self.predict_outcomes(X)
        return mu1 - mu0


# --------------------------------------------------------------------------------------------
# X-learner
# --------------------------------------------------------------------------------------------


class XLearner(_UpliftBase):
    r"""X-learner of Künzel et al. (2019), implemented here from the paper.

    Stage 1 fits the arm-wise outcome models :math:`\hat\mu_0` on the controls and
    :math:`\hat\mu_1` on the treated (classifiers through ``predict_proba`` for a binary
    outcome). Stage 2 imputes individual effects with the *other* arm's model,

    .. math:: D^1_i = Y_i - \hat\mu_0(X_i) \;\; (T_i = 1), \qquad
              D^0_i = \hat\mu_1(X_i) - Y_i \;\; (T_i = 0),

    and regresses them on the covariates of their own arm, giving :math:`\hat\tau_1` (fitted on
    the treated) and :math:`\hat\tau_0` (fitted on the controls). Stage 3 blends them,

    .. math:: \hat\tau(x) = g(x)\,\hat\tau_0(x) + (1 - g(x))\,\hat\tau_1(x),

    with the weight :math:`g = \hat e(x)`, the estimated propensity (or a constant), as the
    paper recommends. Where treated units are rare (:math:`e` small), :math:`\hat\mu_1` is
    poorly estimated, so :math:`\hat\tau_0` (built on it) gets the small weight :math:`e`
    while :math:`\hat\tau_1` (built on the well-estimated :math:`\hat\mu_0`) gets
    :math:`1 - e`; symmetrically where controls are rare.

    Parameters
    ----------
    outcome_estimator : estimator or None, default=None
        Stage-1 base model for :math:`\mu_0, \mu_1` (cloned per arm). ``None`` picks
        ``LogisticRegression(max_iter=1000)`` for a binary outcome and ``LinearRegression()``
        otherwise.
    effect_estimator : regressor or None, default=None
        Stage-2 regressor for :math:`\tau_0, \tau_1` (the imputed effects are real-valued even
        for a binary outcome). ``None`` means ``LinearRegression()``.
    propensity_estimator : classifier or None, default=None
        Classifier for :math:`e(x) = P(T = 1 \mid X = x)`, used when ``propensity="model"``.
        ``None`` means ``LogisticRegression(max_iter=1000)``.
    propensity : {"model", "mean"} or float, default="model"
        Weight :math:`g`: ``"model"`` is the fitted :math:`\hat e(x)`; ``"mean"`` is the
        constant treated share of the training sample; a float in (0, 1) is used as given.
    random_state : int or None, default=None
        Seed from which each clone's ``random_state`` is derived.

    Attributes
    ----------
    model_control_, model_treatment_ : estimator
        Stage-1 outcome models :math:`\hat\mu_0, \hat\mu_1`.
    effect_model_control_, effect_model_treatment_ : estimator
        Stage-2 models :math:`\hat\tau_0` (fitted on controls) and :math:`\hat\tau_1` (on treated).
    propensity_model_ : estimator or None
        Fitted propensity classifier when ``propensity="model"``, else ``None``.
    propensity_ : float or None
        The constant weight :math:`g` when ``propensity`` is ``"mean"`` or a float, else ``None``.
    outcome_is_binary_ : bool
    n_features_in_ : int

    References
    ----------
    S. R. Künzel, J. S. Sekhon, P. J. Bickel and B. Yu, "Metalearners for estimating
    heterogeneous treatment effects using machine learning", PNAS 116(10):4156–4165, 2019.
    """

    def __init__(
        self,
        outcome_estimator: Any = None,
        effect_estimator: Any = None,
        propensity_estimator: Any = None,
        *,
        propensity: float | str = "model",
        random_state: int | None = None,
    ) -> None:
        self.outcome_estimator = outcome_estimator
        self.effect_estimator = effect_estimator
        self.propensity_estimator = propensity_estimator
        self.propensity = propensity
        self.random_state = random_state

    def fit(self, X: ArrayLike, t: ArrayLike, y: ArrayLike) -> Self:
        """Fit stage-1 outcome models, stage-2 effect models and the propensity; return self."""
        Xa, ta, ya = _check_fit_inputs(X, t, y)
        _check_propensity_option(self.propensity)
        s_mu0, s_mu1, s_tau0, s_tau1, s_e = _child_seeds(self.random_state, 5)
        binary = _is_binary(ya)
        outcome = (
            self.outcome_estimator
            if self.outcome_estimator is not None
            else _default_outcome_model(binary)
        )
        effect = self.effect_estimator if self.effect_estimator is not None else LinearRegression()
        _check_regressor(effect, "effect_estimator")

        c, tr = ta == 0, ta == 1
        X0, y0, X1, y1 = Xa[c], ya[c], Xa[tr], ya[tr]
        # Stage 1: arm-wise outcome models.
        self.model_control_ = _fit_mean_model(outcome, X0, y0, s_mu0)
        self.model_treatment_ = _fit_mean_model(outcome, X1, y1, s_mu1)
        # Stage 2: imputed effects, each arm's observed outcome against the other arm's model.
        d1 = y1 - _predict_mean(self.model_control_, X1)
        d0 = _predict_mean(self.model_treatment_, X0) - y0
        self.effect_model_treatment_ = _prepare(effect, s_tau1).fit(X1, d1)
        self.effect_model_control_ = _prepare(effect, s_tau0).fit(X0, d0)
        # Stage 3 weight g(x).
        self.propensity_model_: Any = None
        self.propensity_: float | None = None
        if isinstance(self.propensity, str) and self.propensity == "model":
            template = (
                self.propensity_estimator
                if self.propensity_estimator is not None
                else LogisticRegression(max_iter=1000)
            )
            if not is_classifier(template):
                raise ValueError("propensity_estimator must be a classifier")
            self.propensity_model_ = _prepare(template, s_e).fit(Xa, ta)
        elif isinstance(self.propensity, str):  # "mean"
            self.propensity_ = float(ta.mean())
        else:
            self.propensity_ = float(self.propensity)
        self.outcome_is_binary_ = binary
        self.n_features_in_ = Xa.shape[1]
        return self

    def predict_propensity(self, X: ArrayLike) -> FloatArray:
        """The blending weight :math:`g(x)` (estimated or constant propensity), shape ``(n,)``."""
        Xa = self._check_predict_X(X)
        if self.propensity_model_ is not None:
            return _predict_mean(self.propensity_model_, Xa)
        assert self.propensity_ is not None
        return np.full(Xa.shape[0], self.propensity_)

    def predict_effects(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        r"""Stage-2 estimates ``(tau0, tau1)``: :math:`\hat\tau_0(x)` and :math:`\hat\tau_1(x)`."""
        Xa = self._check_predict_X(X)
        tau0 = _predict_mean(self.effect_model_control_, Xa)
        tau1 = _predict_mean(self.effect_model_treatment_, Xa)
        return tau0, tau1

    def predict_outcomes(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Stage-1 potential-outcome means ``(mu0, mu1)``, each of shape ``(n,)``."""
        Xa = self._check_predict_X(X)
        return _predict_mean(self.model_control_, Xa), _predict_mean(self.model_treatment_, Xa)

    def predict_uplift(self, X: ArrayLike) -> FloatArray:
        r"""Blended effect :math:`g(x)\hat\tau_0(x) + (1 - g(x))\hat\tau_1(x)`, shape ``(n,)``."""
        g = self.predict_propensity(X)
        tau0, tau1 = self.predict_effects(X)
        out: FloatArray = g * tau0 + (1.0 - g) * tau1
        return out


# --------------------------------------------------------------------------------------------
# Outcome-transformation learners
# --------------------------------------------------------------------------------------------


class ClassTransformation(_UpliftBase):
    r"""Class-variable transformation (Jaskowski & Jaroszewicz, 2012), via scikit-uplift.

    With a binary outcome, define :math:`Z = Y T + (1 - Y)(1 - T)` (1 for a treated responder
    or a control non-responder). If :math:`P(T = 1 \mid X) = 1/2`,

    .. math:: 2 P(Z = 1 \mid X = x) - 1 = \mu_1(x) - \mu_0(x) = \tau(x),

    so one classifier for :math:`Z` gives the uplift as :math:`2\hat P(Z = 1 \mid x) - 1`.

    **Valid only for a 50/50 assignment.** With treated share :math:`p`,
    :math:`2P(Z=1\mid x) - 1 = 2p\,\mu_1(x) - 2(1-p)\,\mu_0(x) + 1 - 2p`, which is biased
    for :math:`p \ne 1/2` (e.g. :math:`p = 0.2`: :math:`0.4\mu_1 - 1.6\mu_0 + 0.6`). ``fit``
    warns when the treated share lies outside :math:`0.5 \pm 0.05`; use
    :class:`TransformedOutcome` for unbalanced assignment.

    Parameters
    ----------
    estimator : classifier or None, default=None
        Classifier for :math:`Z` (cloned). ``None`` means ``LogisticRegression(max_iter=1000)``.
    random_state : int or None, default=None
        Seed written into the clone's ``random_state`` parameter(s), if any.

    Attributes
    ----------
    model_ : sklift.models.ClassTransformation
        The fitted scikit-uplift wrapper (its ``estimator`` is the fitted classifier).
    treatment_share_ : float
        Share of treated units in the training sample.
    n_features_in_ : int

    References
    ----------
    M. Jaskowski and S. Jaroszewicz, "Uplift modeling for clinical trial data", ICML 2012
    Workshop on Clinical Data Analysis.
    """

    def __init__(self, estimator: Any = None, *, random_state: int | None = None) -> None:
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X: ArrayLike, t: ArrayLike, y: ArrayLike) -> Self:
        """Fit a classifier for ``z = y·t + (1−y)(1−t)``; return self."""
        Xa, ta, ya = _check_fit_inputs(X, t, y)
        if not _is_binary(ya):
            raise ValueError("ClassTransformation needs a binary 0/1 outcome")
        (seed,) = _child_seeds(self.random_state, 1)
        template = (
            self.estimator if self.estimator is not None else LogisticRegression(max_iter=1000)
        )
        if not is_classifier(template):
            raise ValueError("ClassTransformation needs a classifier")
        share = float(ta.mean())
        if abs(share - 0.5) > _BALANCE_TOLERANCE:
            warnings.warn(
                f"treated share is {share:.3f}; the class transformation estimates uplift only "
                "under a 50/50 assignment and is biased here (use TransformedOutcome)",
                UserWarning,
                stacklevel=2,
            )
        model = _SkliftClassTransformation(_prepare(template, seed))
        model.fit(Xa, ya.astype(np.int64), ta)
        self.model_ = model
        self.treatment_share_ = share
        self.n_features_in_ = Xa.shape[1]
        return self

    def predict_uplift(self, X: ArrayLike) -> FloatArray:
        """Uplift ``2 P̂(z=1 | x) − 1``, shape ``(n,)``."""
        Xa = self._check_predict_X(X)
        return np.asarray(self.model_.predict(Xa), dtype=np.float64)


class TransformedOutcome(_UpliftBase):
    r"""Propensity-corrected transformed outcome (Athey & Imbens, 2015).

    With propensity :math:`e(x) = P(T = 1 \mid X = x)`, the transformed outcome

    .. math:: Y^* = Y\,\frac{T - e(X)}{e(X)\,(1 - e(X))}
              = \frac{T\,Y}{e(X)} - \frac{(1 - T)\,Y}{1 - e(X)}

    satisfies :math:`\mathbb{E}[Y^* \mid X = x] = \tau(x)` under unconfoundedness, for any
    assignment rate. A regressor fitted to :math:`(X, Y^*)` therefore estimates
    :math:`\tau`. The outcome may be binary or real. :math:`Y^*` is noisy (variance grows like
    :math:`1/(e(1-e))`), so flexible regressors need regularisation.

    Parameters
    ----------
    estimator : regressor or None, default=None
        Regressor for :math:`Y^*` (cloned). ``None`` means ``LinearRegression()``.
    propensity : {"mean", "model"} or float, default="mean"
        ``"mean"``: the constant treated share of the training sample (right for a randomised
        experiment at any rate); a float in (0, 1): a known constant rate; ``"model"``: a
        classifier's :math:`\hat e(x)` (observational data), clipped to
        ``[propensity_clip, 1 − propensity_clip]``.
    propensity_estimator : classifier or None, default=None
        Classifier for ``propensity="model"``; ``None`` means ``LogisticRegression``.
    propensity_clip : float, default=0.01
        Clipping of a fitted propensity away from 0 and 1.
    random_state : int or None, default=None
        Seed from which each clone's ``random_state`` is derived.

    Attributes
    ----------
    model_ : estimator
        Fitted regressor of :math:`Y^*` on :math:`X`.
    propensity_model_ : estimator or None
        Fitted propensity classifier when ``propensity="model"``, else ``None``.
    propensity_ : float or None
        Constant propensity used, else ``None``.
    n_features_in_ : int

    References
    ----------
    S. Athey and G. W. Imbens, "Machine learning methods for estimating heterogeneous causal
    effects", arXiv:1504.01132, 2015, Section 2.3 (transformed outcome).
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        propensity: float | str = "mean",
        propensity_estimator: Any = None,
        propensity_clip: float = 0.01,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.propensity = propensity
        self.propensity_estimator = propensity_estimator
        self.propensity_clip = propensity_clip
        self.random_state = random_state

    def fit(self, X: ArrayLike, t: ArrayLike, y: ArrayLike) -> Self:
        """Fit the regressor to the transformed outcome ``y (t − e)/(e(1 − e))``; return self."""
        Xa, ta, ya = _check_fit_inputs(X, t, y)
        _check_propensity_option(self.propensity)
        if not 0.0 <= self.propensity_clip < 0.5:
            raise ValueError(f"propensity_clip must lie in [0, 0.5), got {self.propensity_clip}")
        s_model, s_e = _child_seeds(self.random_state, 2)
        template = self.estimator if self.estimator is not None else LinearRegression()
        _check_regressor(template, "estimator")

        self.propensity_model_: Any = None
        self.propensity_: float | None = None
        if isinstance(self.propensity, str) and self.propensity == "model":
            e_template = (
                self.propensity_estimator
                if self.propensity_estimator is not None
                else LogisticRegression(max_iter=1000)
            )
            if not is_classifier(e_template):
                raise ValueError("propensity_estimator must be a classifier")
            self.propensity_model_ = _prepare(e_template, s_e).fit(Xa, ta)
            e = np.clip(
                _predict_mean(self.propensity_model_, Xa),
                self.propensity_clip,
                1.0 - self.propensity_clip,
            )
        else:
            self.propensity_ = (
                float(ta.mean()) if isinstance(self.propensity, str) else float(self.propensity)
            )
            e = np.full(ta.shape[0], self.propensity_)
        y_star = ya * (ta - e) / (e * (1.0 - e))
        self.model_ = _prepare(template, s_model).fit(Xa, y_star)
        self.n_features_in_ = Xa.shape[1]
        return self

    def predict_uplift(self, X: ArrayLike) -> FloatArray:
        """Estimated effect ``E[y* | x]``, shape ``(n,)``."""
        Xa = self._check_predict_X(X)
        return _predict_mean(self.model_, Xa)
