r"""Customer segmentation: heuristic rules, RFM scoring, k-means and a logistic segment model.

Pure functions on arrays, shared by the ``segment`` policy and the segmentation analysis.

Heuristic rules — :func:`rule_segments`
    An ordered list of rules ``(feature, low, high)``; a user belongs to the segment of the
    first rule with :math:`\text{low} \le x_{\text{feature}} \le \text{high}`, and to the
    catch-all segment ``len(rules)`` when none holds.

RFM — :func:`rfm_table`, :func:`rfm_scores`, :func:`rfm_segments`
    At a reference time :math:`t`, over the purchases (conversions) logged up to :math:`t`:

    * **recency** :math:`R_u = t - t^{\text{last purchase}}_u`, *days since the last
      purchase*; a user who never purchased has recency :math:`t - t^{\text{join}}_u` and
      gets the lowest recency score;
    * **frequency** :math:`F_u` = number of purchases;
    * **monetary** :math:`M_u` = total revenue of those purchases.

    Each is scored 1 … q (``bins`` = 4 quartiles or 5 quintiles) by the user's mid-rank
    percentile: with average ranks :math:`r` (ties share their mean rank) among :math:`n`
    users, score :math:`= \min(q, 1 + \lfloor q (r - 1/2)/n \rfloor)` — higher is better, so
    recency is ranked on :math:`-R`. Tied users always share a score, which quantile cuts of
    a ``rank(method="first")`` would not guarantee. :func:`rfm_segments` names segments from
    the R and F scores (:data:`RFM_SEGMENTS`).

k-means — :func:`kmeans_segments`
    Lloyd's k-means on standardised features (z-scores), ``n_init`` restarts seeded by
    ``seed`` (scikit-learn's k-means++ initialisation), single-threaded; labels renumbered by
    decreasing cluster size (ties by centroid order), so they do not depend on the restart
    that won.

Logistic segment model — :func:`fit_segment_classifier`
    Multinomial logistic regression on standardised features, trained on labelled users
    (e.g. existing customers with RFM or k-means segments), to assign new users — who have no
    purchase history — to the learnt segments.

Agreement with a reference — :func:`segment_agreement`
    Adjusted Rand index (Hubert & Arabie 1985) and normalised mutual information
    (arithmetic normalisation, Vinh et al. 2010) between recovered and true segments.

References
----------
.. [1] A. M. Hughes, *Strategic Database Marketing*, McGraw-Hill, 1994 (RFM).
.. [2] S. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28(2), 1982;
   D. Arthur and S. Vassilvitskii, "k-means++", SODA 2007.
.. [3] L. Hubert and P. Arabie, "Comparing partitions", J. Classification 2:193–218, 1985.
.. [4] N. X. Vinh, J. Epps and J. Bailey, "Information theoretic measures for clusterings
   comparison", JMLR 11:2837–2854, 2010.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import rankdata

from recarena.typing import FloatArray, IntArray

__all__ = [
    "RFM_SEGMENTS",
    "fit_segment_classifier",
    "kmeans_segments",
    "predict_kmeans",
    "rfm_scores",
    "rfm_segments",
    "rfm_table",
    "rule_segments",
    "segment_agreement",
    "segment_profiles",
]


#: RFM segment names, indexed by the codes :func:`rfm_segments` returns.
RFM_SEGMENTS: tuple[str, ...] = (
    "champions",  # recent and frequent
    "loyal",  # frequent, fairly recent
    "promising",  # recent, infrequent
    "at_risk",  # not recent, used to buy
    "hibernating",  # not recent, infrequent
    "needs_attention",  # middle of the road
    "prospects",  # never purchased
)


def rule_segments(
    X: NDArray[Any], feature_names: Sequence[str], rules: Sequence[tuple[str, float, float]]
) -> IntArray:
    """Segment of each row: the index of the first rule ``(feature, low, high)`` that holds,
    or ``len(rules)`` when none does (bounds inclusive; use ±inf for open ends)."""
    names = list(feature_names)
    out = np.full(X.shape[0], len(rules), dtype=np.int64)
    undecided = np.ones(X.shape[0], dtype=bool)
    for j, (feature, low, high) in enumerate(rules):
        if feature not in names:
            raise ValueError(f"rule feature {feature!r} is not a feature; known: {names}")
        x = np.asarray(X[:, names.index(feature)], dtype=np.float64)
        hit = undecided & (x >= low) & (x <= high)
        out[hit] = j
        undecided &= ~hit
    return out


def rfm_table(
    purchase_t: FloatArray,
    purchase_user: IntArray,
    purchase_revenue: FloatArray,
    users: IntArray,
    join_t: FloatArray,
    t: float,
) -> pd.DataFrame:
    """Recency (days since the last purchase), frequency and monetary value at time ``t``.

    Parameters
    ----------
    purchase_t, purchase_user, purchase_revenue
        The purchase log; purchases after ``t`` are ignored.
    users
        Users to describe (ascending ids recommended).
    join_t
        Arrival time of each of ``users``, shape (n,).
    t
        Reference time.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``user``: ``recency`` (days), ``frequency`` (purchases), ``monetary``
        (revenue), ``purchased`` (bool: at least one purchase).
    """
    users = np.asarray(users, dtype=np.int64)
    n = int(
        max(
            users.max() + 1 if users.size else 0,
            purchase_user.max() + 1 if purchase_user.size else 0,
        )
    )
    past = purchase_t <= t
    freq = np.bincount(purchase_user[past], minlength=n).astype(np.float64)
    money = np.bincount(purchase_user[past], weights=purchase_revenue[past], minlength=n)
    last = np.full(n, -np.inf)
    np.maximum.at(last, purchase_user[past], purchase_t[past])
    bought = np.isfinite(last[users])
    recency = np.where(bought, t - last[users], t - np.asarray(join_t, dtype=np.float64))
    frame = pd.DataFrame(
        {
            "recency": recency,
            "frequency": freq[users],
            "monetary": money[users],
            "purchased": bought,
        },
        index=pd.Index(users, name="user"),
    )
    return frame


def _score(values: FloatArray, bins: int) -> IntArray:
    n = values.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = rankdata(values, method="average")
    out: IntArray = np.minimum(bins, 1 + np.floor(bins * (ranks - 0.5) / n)).astype(np.int64)
    return out


def rfm_scores(table: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """R, F and M scores 1 … ``bins`` (4 or 5) of an :func:`rfm_table`, higher = better.

    Mid-rank percentiles (module docstring): ties share a score. Users who never purchased
    get R = 1 whatever their time since arrival. Adds columns ``R, F, M`` and the
    ``RFM`` code (e.g. ``"545"``) and returns a new frame.
    """
    if bins not in (4, 5):
        raise ValueError(f"RFM uses 4 or 5 quantile bins, got {bins}")
    out = table.copy()
    r = _score(-table["recency"].to_numpy(dtype=np.float64), bins)
    out["R"] = np.where(table["purchased"].to_numpy(), r, 1)
    out["F"] = _score(table["frequency"].to_numpy(dtype=np.float64), bins)
    out["M"] = _score(table["monetary"].to_numpy(dtype=np.float64), bins)
    out["RFM"] = out["R"].astype(str) + out["F"].astype(str) + out["M"].astype(str)
    return out


def rfm_segments(scores: pd.DataFrame, bins: int = 5) -> IntArray:
    """Segment codes (indices into :data:`RFM_SEGMENTS`) from R and F scores.

    With q bins, "high" means a score ≥ ⌈3q/4⌉ (3 of 4, 4 of 5) and "low" a score ≤ ⌊q/2⌋:
    champions = high R & high F; loyal = high F & R neither high nor low; promising = high R
    & low F; at risk = low R & F not low (used to buy, gone quiet); hibernating = low R & low
    F; needs attention = the rest; prospects = never purchased.
    """
    r = scores["R"].to_numpy()
    f = scores["F"].to_numpy()
    high, low = int(np.ceil(3 * bins / 4)), bins // 2
    out = np.full(r.size, 5, dtype=np.int64)
    out[(r <= low) & (f <= low)] = 4
    out[(r <= low) & (f > low)] = 3
    out[(r >= high) & (f <= low)] = 2
    out[(f >= high) & (r > low) & (r < high)] = 1
    out[(r >= high) & (f >= high)] = 0
    out[~scores["purchased"].to_numpy(dtype=bool)] = 6
    return out


def kmeans_segments(X: NDArray[Any], k: int, n_init: int, seed: int) -> tuple[IntArray, Any]:
    """k-means on z-scored features; returns labels (largest cluster = 0) and the fitted
    pipeline ``StandardScaler → KMeans`` with a ``label_map_`` attribute to apply to its
    ``predict`` output (see :func:`predict_kmeans`)."""
    from sklearn.cluster import KMeans
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, dtype=np.float64)
    k = max(1, min(k, X.shape[0]))
    model = make_pipeline(StandardScaler(), KMeans(n_clusters=k, n_init=n_init, random_state=seed))
    # One OpenMP thread: on small data, thread start-up (and oversubscription when several
    # runs share the cores) costs far more than Lloyd's iterations themselves.
    with threadpool_limits(limits=1):
        raw = model.fit_predict(X)
    sizes = np.bincount(raw, minlength=k)
    order = np.lexsort((np.arange(k), -sizes))  # largest first, ties by cluster index
    label_map = np.empty(k, dtype=np.int64)
    label_map[order] = np.arange(k)
    model.label_map_ = label_map
    return label_map[raw], model


def predict_kmeans(model: Any, X: NDArray[Any]) -> IntArray:
    """Segments of new rows under a model from :func:`kmeans_segments`."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        raw = model.predict(np.asarray(X, dtype=np.float64))
    out: IntArray = model.label_map_[raw]
    return out


def fit_segment_classifier(X: NDArray[Any], labels: NDArray[Any]) -> Any:
    """Multinomial logistic regression (standardised inputs) from features to segments.

    With a single segment in ``labels`` a constant classifier is returned.
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=np.float64)
    if np.unique(labels).size < 2:
        return DummyClassifier(strategy="most_frequent").fit(X, labels)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return model.fit(X, labels)


def segment_agreement(true: NDArray[Any], predicted: NDArray[Any]) -> dict[str, float]:
    """``{"ari": adjusted Rand index, "nmi": normalised mutual information}``."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {
        "ari": float(adjusted_rand_score(true, predicted)),
        "nmi": float(normalized_mutual_info_score(true, predicted)),
    }


def segment_profiles(
    X: NDArray[Any], feature_names: Sequence[str], labels: NDArray[Any]
) -> pd.DataFrame:
    """Size, share and mean of every feature per segment (rows = segments, ascending)."""
    frame = pd.DataFrame(np.asarray(X, dtype=np.float64), columns=list(feature_names))
    frame["segment"] = np.asarray(labels)
    grouped = frame.groupby("segment", sort=True)
    means = grouped.mean()
    sizes = grouped.size()
    means.insert(0, "share", sizes / sizes.sum())
    means.insert(0, "size", sizes)
    return means
