"""Offline metrics for top-k recommendation lists.

Pure functions on numpy / scipy.sparse / pandas; nothing here knows about the simulator.

Data conventions
----------------
* **Recommendations** ``recs``: an integer array ``(n_users, L)`` of item ids, best first.
  ``-1`` marks an empty slot (short or empty lists are padded with ``-1``). Only the first
  ``k`` columns are evaluated; if ``L < k`` the missing slots are empty. The rank of an item
  is its column position (1-based), so an empty slot still occupies its rank. A list may not
  name the same item twice (:class:`ValueError`).
* **Relevance**: either a scipy.sparse matrix ``(n_users, n_items)`` whose stored values are
  grades (binary: all 1; graded: any non-negative number, 0 meaning not relevant), or a
  sequence with one entry per user that is either an iterable of item ids (binary) or a
  mapping ``item -> grade``. :func:`relevance_from_frame` builds the CSR matrix from a
  ``(user, item[, weight])`` DataFrame. An item is *relevant* when its grade is > 0;
  ``R_u`` below is that set and ``|R_u|`` its size.
* ``rel_u(j)`` is the grade of the item at rank ``j`` of user ``u``'s list (0 for an empty
  slot or an irrelevant item) and ``hit_u(j) = 1[rel_u(j) > 0]``.

Conventions (named options where libraries disagree; defaults first)
---------------------------------------------------------------------
* Users with no relevant items: left out of the mean (``empty_relevant="skip"``, their
  per-user value is NaN) or counted as 0 (``"zero"``).
* Users with no recommendations stay in every *accuracy* metric and score 0. List-property
  metrics (novelty, ARP, intra-list diversity, calibration) are undefined for an empty list
  (a 0 there would claim "perfectly unbiased / no diversity"), so those users are NaN and
  left out; :func:`user_coverage` reports how many users got a list at all.
* Precision divides by ``k`` (``divisor="k"``), or by the number of items actually shown
  (``"n_recommended"``).
* Recall divides by ``|R_u|`` (``divisor="relevant"``), or by ``min(|R_u|, k)``
  (``"min_k_relevant"``).
* MAP divides each user's sum of precisions by ``min(|R_u|, k)`` (``divisor="min_k_relevant"``)
  or by ``|R_u|`` (``"relevant"``).
* NDCG gains are linear, ``g(r) = r`` (``gain="linear"``, Järvelin & Kekäläinen 2002;
  scikit-learn, trec_eval), or exponential, ``g(r) = 2^r - 1`` (``gain="exponential"``,
  Burges et al. 2005); identical for binary relevance. The ideal DCG is over the
  ``min(k, |R_u|)`` best grades (``ideal="min_k_relevant"``), over ``k`` ideal hits whatever
  ``|R_u|`` (``ideal="k"``, binary relevance only), or over all of ``R_u`` untruncated
  (``ideal="all_relevant"``).

Every per-user metric ``m`` has ``m_per_user(...) -> ndarray`` (NaN for users left out) and
``m(...) -> float`` (mean over the non-NaN users; NaN if there are none). Each metric is
written once, per user; the empty-relevant convention and the mean over users come from one
base (:mod:`.base`).
:func:`bootstrap_ci` gives a percentile bootstrap interval over users and
:func:`ranking_report` collects everything into one DataFrame.

Modules: :mod:`.inputs` (validation, relevance matrices), :mod:`.base` (the metric base),
:mod:`.accuracy`, :mod:`.coverage` (coverage and popularity bias), :mod:`.diversity`
(diversity and calibration), :mod:`.uncertainty` (bootstrap) and :mod:`.report`; the public
functions are re-exported here.

No global random state is used anywhere: randomness comes only from a
:class:`numpy.random.Generator` passed in by the caller.
"""

from __future__ import annotations

from recarena.analysis.ranking.accuracy import (
    hit_rate_at_k,
    hit_rate_at_k_per_user,
    map_at_k,
    map_at_k_per_user,
    mrr_at_k,
    mrr_at_k_per_user,
    ndcg_at_k,
    ndcg_at_k_per_user,
    precision_at_k,
    precision_at_k_per_user,
    recall_at_k,
    recall_at_k_per_user,
    serendipity,
    serendipity_per_user,
)
from recarena.analysis.ranking.coverage import (
    average_recommendation_popularity,
    average_recommendation_popularity_per_user,
    catalogue_coverage,
    gini_index,
    novelty,
    novelty_per_user,
    recommendation_counts,
    user_coverage,
    user_coverage_per_user,
)
from recarena.analysis.ranking.diversity import (
    calibration_kl,
    calibration_kl_per_user,
    intra_list_diversity,
    intra_list_diversity_per_user,
)
from recarena.analysis.ranking.inputs import as_relevance_matrix, relevance_from_frame
from recarena.analysis.ranking.report import ranking_report
from recarena.analysis.ranking.uncertainty import bootstrap_ci

__all__ = [
    "as_relevance_matrix",
    "average_recommendation_popularity",
    "average_recommendation_popularity_per_user",
    "bootstrap_ci",
    "calibration_kl",
    "calibration_kl_per_user",
    "catalogue_coverage",
    "gini_index",
    "hit_rate_at_k",
    "hit_rate_at_k_per_user",
    "intra_list_diversity",
    "intra_list_diversity_per_user",
    "map_at_k",
    "map_at_k_per_user",
    "mrr_at_k",
    "mrr_at_k_per_user",
    "ndcg_at_k",
    "ndcg_at_k_per_user",
    "novelty",
    "novelty_per_user",
    "precision_at_k",
    "precision_at_k_per_user",
    "ranking_report",
    "recall_at_k",
    "recall_at_k_per_user",
    "recommendation_counts",
    "relevance_from_frame",
    "serendipity",
    "serendipity_per_user",
    "user_coverage",
    "user_coverage_per_user",
]
