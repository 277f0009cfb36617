"""Multi-armed and contextual bandits for the variant, campaign and slate surfaces.

Registered kinds
----------------
=======================  ==============================================================
``epsilon_greedy``       ε-greedy, fixed ε or ε_t = min(1, c·K/t) (Auer et al. 2002)
``ucb1``                 UCB1 (Auer, Cesa-Bianchi & Fischer 2002)
``kl_ucb``               KL-UCB for Bernoulli rewards (Garivier & Cappé 2011)
``thompson``             Thompson sampling, Beta–Bernoulli or Normal–Inverse-Gamma
``softmax``              Boltzmann exploration, optionally annealed
``sw_ucb``               sliding-window UCB (Garivier & Moulines 2011)
``discounted_ucb``       discounted UCB (Garivier & Moulines 2011)
``discounted_thompson``  Thompson sampling on discounted pseudo-counts
``lin_ucb``              LinUCB with disjoint arms (Li et al. 2010)
``lin_thompson``         linear Thompson sampling (Agrawal & Goyal 2013)
``lin_ucb_items``        LinUCB over items, one θ shared on user ⊗ item features (slates)
``lin_thompson_items``   linear Thompson sampling over items, shared θ (slates)
=======================  ==============================================================

Every policy is assembled from three shared pieces, so each class only states what is its own:

* a **memory** of per-arm sufficient statistics (trials ``n``, reward sum ``s``, sum of squared
  rewards ``q``): cumulative, sliding-window (a ring of per-bucket aggregates) or discounted;
* a pure **kernel** (listed in :data:`.kernels.KERNELS`) mapping statistics and a generator to
  the chosen arms, shape (B, k), *and the scores it ranked*; the policy calls it, and a
  benchmark can call it bare;
* a **propensity** rule applied to those scores: exact (ε-greedy, softmax), tie-aware for index
  policies (1.0, or the probability of the random tie-break), Monte Carlo for Thompson
  sampling, a one-dimensional quadrature for linear Thompson sampling. On slates it is the
  probability that the item shown first was put first, as
  :class:`~recarena.contract.Decision` defines.

Modules, bottom-up
------------------
=======================  ==============================================================
:mod:`.selection`        top-k of scores with seeded tie-breaking
:mod:`.scores`           confidence indices, posterior draws, linear moments
:mod:`.kernels`          the decision kernels (statistics → ranked arms and scores)
:mod:`.propensities`     the probability of the logged first arm, from the scores
:mod:`.memory`           per-arm statistics: cumulative, discounted, sliding window
:mod:`.arms`             arms of a request, campaign mapping, credit from feedback
:mod:`.params`           the parameter models
:mod:`.base`             the online skeleton (state, buffering, decision pipeline)
:mod:`.context_free`     ε-greedy, softmax, UCB1, SW-UCB, D-UCB, KL-UCB, Thompson
:mod:`.linear`           disjoint LinUCB and linear Thompson (variant, campaign)
:mod:`.item_linear`      shared-θ LinUCB and linear Thompson over items (slates)
=======================  ==============================================================

Arms
----
Variant surface: the K = ``n_variants`` variants. Campaign surface: the ``n_offers`` offers, plus
"no offer" as arm K-1 when ``include_no_offer`` is set (reported as action -1); offers a user is
not eligible for are never chosen, and a user with no eligible arm gets -1 with propensity 1.
The campaign budget is only enforced, not optimised: when the chosen offers' contact costs
exceed it, a random subset of treated users is dropped to -1; untreated users are the control
group of a random eligible offer. Slate surface: the ``n_items`` items; a slate is the top-k
(k = ``slate_size``) of the per-user item scores among the available items, ordered by score,
so its items are distinct (padded by repeating the last item when fewer than k are on sale).
The disjoint contextual policies act on the variant and campaign surfaces only (a per-item
disjoint model would need n_items·F² memory). On slates the shared-feature variants
(``lin_ucb_items``, ``lin_thompson_items``) fit one θ on the contexts x = x̃ᵤ ⊗ zᵢ, user features
(with a constant) times the public item vector zᵢ — one-hot category and standardised log price,
and/or a truncated-SVD embedding of the TF-IDF description — so D = (F + 1)·dz parameters in all
and new items are scored from their attributes alone (:mod:`.item_linear`).

Batches
-------
All users of a request see the same statistics (feedback is batched); randomised choices are
independent per user (Thompson sampling draws one posterior sample per user and arm). An index
policy is deterministic given its statistics, so a whole batch receives the same arm unless
random tie-breaking spreads it over tied arms. Nothing is looped over per decision.

Learning and credit
-------------------
Variant surface: ``CLICK`` feedback, reward = click (0/1). Campaign surface: ``RESPONSE``
feedback, reward = response (0/1). Slate surface: ``CLICK`` feedback with position-aware credit:
with ``credit="cascade"`` (cascade model, Craswell et al. 2008; Kveton et al. 2015) the items in
the positions down to and including the clicked one — all k when nothing was clicked — count one
trial each and the clicked item a reward of 1; with ``credit="all_shown"`` every shown item counts
a trial. With ``reward="conversion"`` (context-free policies), slate trials still come from clicks
but rewards are the revenue of ``CONVERSION`` feedback, credited to the purchased item, so the
estimate is revenue per examination; that is what the Gaussian Thompson model is for. It is
refused on the variant surface, whose conversion feedback names the purchased item and not the
variant. Other feedback is ignored.

With ``refresh_every > 0`` feedback is buffered and applied when a delivery (or a request) reaches
the next refresh time, a multiple of ``refresh_every`` days.

Initialisation
--------------
``init="round_robin"``: an arm never played (zero trials in memory) gets score +∞, so unplayed
arms are tried first — for index, ε-greedy and softmax policies the estimates then use the data
alone. ``init="prior"``: no forcing; the estimates include ``prior_count`` pseudo-observations of
value ``prior_mean``. Thompson sampling always uses its prior (it is the model); round robin only
adds the forcing. Ties — between unplayed arms, or equal estimates — are broken uniformly at
random per user (``tie_break="random"``) or by lowest arm index (``"first"``). The choice changes
the regret: with batches, ``"first"`` sends a whole batch to one tied arm, ``"random"`` spreads it.
"""
