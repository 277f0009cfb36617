"""Slate recommenders: one module per family.

* :mod:`.base` — :class:`~.base.HistoryRecommender`, the shared machinery of history-trained
  recommenders (interactions, selection, fallback, exploration, threads);
* :mod:`.slates` — building slates: random distinct items, shared top-k, ε-exploration;
* :mod:`.heuristics` — random actions and item popularity (the baselines);
* :mod:`.collaborative` — item/user kNN, ALS, BPR, PureSVD;
* :mod:`.content` — TF-IDF content-based recommenders;
* :mod:`.hybrid` — LightFM with user and item features;
* :mod:`.association` — association rules and per-segment popularity.
"""
