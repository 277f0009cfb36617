"""The metric base: a ranking metric is written once, per user; the rest comes from here.

A per-user metric is a function of the judged top-k lists (:class:`JudgedLists`: the lists
cut to k, the grade of every slot, each user's number of relevant items). The base supplies
what every metric shares:

* :func:`judge` — validation and the relevance lookup, once per call (and once per report);
* :func:`per_user` — the *empty-relevant convention*: users with no relevant item are NaN
  (``empty_relevant="skip"``, left out of the mean) or score 0 (``"zero"``);
* :func:`mean_over_users` — the aggregate form ``m(...) = mean of m_per_user(...)`` over the
  users that are not NaN, NaN when there are none (:func:`nanmean`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec

import numpy as np
from numpy.typing import ArrayLike

from recarena.analysis.ranking.inputs import (
    EmptyRelevant,
    RelevanceLike,
    as_recs,
    check_k,
    check_option,
    lookup_grades,
    relevance_for,
)
from recarena.typing import FloatArray, IntArray

__all__ = ["JudgedLists", "judge", "mean_over_users", "nanmean", "per_user", "with_empty_relevant"]

P = ParamSpec("P")


@dataclass(frozen=True)
class JudgedLists:
    """Top-k lists with the relevance of every slot: what an accuracy metric reads."""

    recs: IntArray  #: (n_users, ≤ k) item ids cut to k, -1 for an empty slot
    grades: FloatArray  #: (n_users, ≤ k) grade of each slot, 0 when empty or irrelevant
    n_relevant: IntArray  #: (n_users,) |R_u|
    relevance: Any  #: canonical CSR (n_users, n_items) relevance
    k: int


def judge(recs: ArrayLike, relevance: RelevanceLike, k: int) -> JudgedLists:
    """Validate ``recs`` and ``relevance`` and look up the grade of every top-k slot."""
    check_k(k, allow_none=False)
    r = as_recs(recs, k)
    mat = relevance_for(relevance, r)
    n_rel = np.diff(mat.indptr).astype(np.int64)
    return JudgedLists(r, lookup_grades(mat, r), n_rel, mat, int(k))


def with_empty_relevant(
    values: FloatArray, lists: JudgedLists, empty_relevant: EmptyRelevant
) -> FloatArray:
    """``values`` with the users that have no relevant item NaN (``"skip"``) or 0 (``"zero"``)."""
    check_option("empty_relevant", empty_relevant, ("skip", "zero"))
    fill = np.nan if empty_relevant == "skip" else 0.0
    return np.where(lists.n_relevant > 0, values, fill)


def per_user(
    score: Callable[[JudgedLists], FloatArray],
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    empty_relevant: EmptyRelevant,
) -> FloatArray:
    """A relevance metric per user: ``score`` of the judged lists, under the convention."""
    lists = judge(recs, relevance, k)
    return with_empty_relevant(score(lists), lists, empty_relevant)


def nanmean(values: FloatArray) -> float:
    """Mean of the non-NaN entries; NaN (without a warning) when there are none."""
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def mean_over_users(per_user_metric: Callable[P, FloatArray], summary: str) -> Callable[P, float]:
    """The aggregate form of a per-user metric: same arguments, :func:`nanmean` of the values.

    ``hit_rate_at_k = mean_over_users(hit_rate_at_k_per_user, "Mean HitRate@k over users")``
    defines ``hit_rate_at_k(recs, relevance, k, *, empty_relevant="skip") -> float``.
    """

    def mean(*args: P.args, **kwargs: P.kwargs) -> float:
        return nanmean(per_user_metric(*args, **kwargs))

    name = per_user_metric.__name__.removesuffix("_per_user")
    mean.__name__ = mean.__qualname__ = name
    mean.__module__ = per_user_metric.__module__
    mean.__doc__ = f"{summary}; see :func:`{per_user_metric.__name__}`."
    signature = inspect.signature(per_user_metric).replace(return_annotation="float")
    vars(mean)["__signature__"] = signature
    return mean
