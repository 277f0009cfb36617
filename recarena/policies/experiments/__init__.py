r"""Experiments are policies too: A/B splits and bandits over whole policies.

Registered kinds
----------------
==========================  ===============================================================
``fixed``                   always the same variant (or offer): one arm of a banner A/B test
``ab_split``                sticky hashed split of users over sub-policies, a fixed-horizon or
                            sequential test at checkpoints, optional explore-then-commit
``bandit_over_policies``    a bandit (any kind from :mod:`recarena.policies.bandits`) that
                            allocates sessions or users adaptively among whole sub-policies
==========================  ===============================================================

Modules: :mod:`.fixed` (the fixed action), :mod:`.assignment` (user hashing),
:mod:`.composite` (sub-policies: request splitting and feedback routing), :mod:`.ab_split` and
:mod:`.bandit_over_policies`; the statistical decision machine is
:mod:`recarena.stats.sequential_test`.

Both experiment policies wrap *sub-policies* given as ordinary policy configs
(``{name, policy: {kind: ..., ...}}``), built with :func:`recarena.policies.registry.make`,
each with its own random stream spawned from the wrapper's. A request is cut into one
sub-request per sub-policy (a loop over the K sub-policies, never over decisions); each
sub-policy acts on its users, learns only from the feedback of the decisions it made, and
every sub-policy refits on the whole history (:meth:`Policy.fit` is forwarded to all).

Logged columns
--------------
``Decision.group`` is the index of the sub-policy that served the decision. The propensity is
the probability of the logged (sub-policy, action) pair: the sub-policy's propensity of its
action (1 when it is deterministic) times the probability that the decision was routed to it
(the assignment weight :math:`w_k` during an A/B test, 1 after a commit, the allocating
bandit's propensity for :class:`BanditOverPolicies`). The marginal probability of the action
alone, :math:`\sum_j w_j \pi_j(a \mid x)`, is at least that large; off-policy estimators that
condition on the group use the logged value directly. On slates the per-slot and whole-slate
propensities are the sub-policy's times the same routing probability (NaN where the
sub-policy does not know them).

A/B split
---------
**Assignment.** User :math:`u` is assigned to variant
:math:`g(u) = \min\{k : U_u < \sum_{j \le k} w_j\}` with :math:`U_u` the counter-based uniform
``uniform(salt, u, 0, 0, Purpose.ASSIGNMENT)`` (:mod:`recarena.simulator.rng`), a hash of
(user, salt): the assignment is sticky (the same user always gets the same variant),
deterministic, independent across users and needs no stored table (Kohavi, Tang & Xu 2020,
*Trustworthy Online Controlled Experiments*, ch. 14). The salt is ``salt`` when given (the
same split in every run), else a number drawn from the policy's stream at set-up (the same
for every arm of a seed, different across seeds).

**Pre-period.** With ``pre_period_days`` = P > 0, every decision up to day P (requests at
:math:`t \le P`; P must be a whole multiple of the decision window, so a session and the
request that serves it fall on the same side of P) is served by the control (variant 0,
logged as group 0 with weight 1) and none of it enters the test: the split and the looks
start at P (:math:`P + c, P + 2c, \dots, H`; information fractions
:math:`(\tau_\ell - P)/(H - P)`). Since every user had the same treatment before P, their
pre-period clicks per session are a covariate the treatment cannot have affected, which
:mod:`recarena.analysis.experiments` uses for CUPED (Deng et al. 2013).

**Test.** Variant 0 is the control; each treatment k ≥ 1 is compared with it on the
per-decision binary reward (``metric="click"``: a click on the session surfaces;
``"response"``: a campaign response; ``"auto"``: whichever fits the surface). Checkpoints
("looks") are at :math:`c, 2c, \dots` up to the test horizon :math:`H` (``checkpoint_every`` = c,
``horizon_days`` = H, default the run's horizon), with :math:`H` always the last look. At look
:math:`\ell`, decisions made at :math:`t \le \tau_\ell` count (cumulative trials
:math:`n_{k\ell}` and successes :math:`s_{k\ell}`).
:class:`~recarena.stats.sequential_test.SequentialTest` turns the looks into a decision.

The rules (``fixed``, ``peeking``, ``sequential_msprt``, ``obrien_fleming``), how a look
decides and how the winner is chosen are those of :mod:`recarena.stats.sequential_test`.

**Commit.** With ``commit=True`` (explore-then-commit) every decision after the test decided
is routed to the winner. The policy evaluates look :math:`\ell` at its first request with
:math:`t > \tau_\ell`, on the feedback received by then.

**Where the test lives.** The policy runs the test only to know when to commit; it does no
I/O. :mod:`recarena.analysis.experiments` recomputes the same :class:`SequentialTest` from the
logged ``group`` and ``click`` (or ``responded``) columns, which gives identical looks when
feedback is delivered after every decision window (``schedule.feedback_every = 0``, the
default); with batched or delayed feedback the policy's looks may miss late feedback that the
logs hold.

Bandit over policies
--------------------
A bandit policy from :mod:`recarena.policies.bandits` (``bandit``, any kind acting on the
variant surface: ε-greedy, UCB1, KL-UCB, Thompson, softmax, the sliding-window and discounted
variants, LinUCB, linear Thompson) is set up on a virtual variant surface whose K "variants"
are the sub-policies. Per session (``unit="session"``) or per user on first sight, sticky
afterwards (``unit="user"``), it chooses the sub-policy that serves the decision, and learns
from the binary reward of that decision (click, or campaign response). Feedback follows the
decisions in order, one record per decision, so records are matched to the decisions that
produced them by position; conversions are routed to the sub-policy that served the user's
latest click.

References
----------
.. [1] Kohavi, R., Tang, D., Xu, Y. (2020). *Trustworthy Online Controlled Experiments*.
   Cambridge University Press.
.. [2] Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). "Peeking at A/B tests: why it
   matters, and what to do about it". *KDD '17*.
.. [3] Lan, K. K. G., DeMets, D. L. (1983). "Discrete sequential boundaries for clinical
   trials". *Biometrika* 70(3).
.. [4] Garivier, A., Kaufmann, E., Lattimore, T. (2016). "On explore-then-commit strategies".
   *NeurIPS*.
.. [5] Holm, S. (1979). "A simple sequentially rejective multiple test procedure".
   *Scand. J. Statist.* 6(2).
"""
