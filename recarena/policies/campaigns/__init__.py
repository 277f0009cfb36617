"""Campaign policies: which offer, if any, to send to each user.

* :mod:`.base` — :class:`~.base.CampaignPolicy`, the shared pilot → fit → target life cycle;
* :mod:`.uplift` — uplift targeting with a CATE learner;
* :mod:`.nba` — Next Best Action, one response model per offer, under a budget;
* :mod:`.lookalike` — churn look-alike retention targeting;
* :mod:`.segmentation` — one action per segment (rules, RFM, k-means, a segment model).
"""
