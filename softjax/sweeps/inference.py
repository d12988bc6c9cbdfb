"""Verdicts from paired replicates: the paired difference with its 95% t-interval, two
one-sided tests for equivalence, Holm's correction over a named family, and effects
pooled across settings.

**Paired difference.** Replicate i of arm A and of arm B share their init draw and data
order (init seed i, data seed i), so their difference ``dᵢ = aᵢ − bᵢ`` removes what the
two share. With ``n`` replicates, mean ``d̄``, sample standard deviation ``s``
(``ddof = 1``) and ``se = s/√n``, the 95% interval is ``d̄ ± t_{0.975, n−1} · se`` and
the two-sided p-value of "no difference" is ``2 · P(T_{n−1} > |d̄|/se)``.

**Equivalence (TOST).** "A equals B within ±δ" is shown by rejecting both ``μ ≤ −δ``
(``p₁ = P(T > (d̄ + δ)/se)``) and ``μ ≥ δ`` (``p₂ = P(T < (d̄ − δ)/se)``); its p-value is
``max(p₁, p₂)`` (Schuirmann 1987). At α = 0.05 this is "the 90% interval lies inside
(−δ, δ)".

**Holm.** A family of m comparisons (named: e.g. "every loss vs cce at init 10") is
corrected by Holm's step-down rule (Holm 1979): with the raw p sorted ascending,
``p̃₍ⱼ₎ = max_{k≤j} min(1, (m − k + 1) · p₍ₖ₎)``. It controls the family-wise error at α
under any dependence. The difference tests and the equivalence tests are each corrected
over the family.

**Four verdicts** (:func:`decide`): ``"higher"``/``"lower"`` when the Holm-adjusted
difference p is below α (by the sign of d̄); else ``"equivalent"`` when the
Holm-adjusted TOST p is below α; else ``"inconclusive"``. A real difference smaller than
δ reads "higher"/"lower" (the interval shows how small). The interval reported is the
raw 95% one; the verdict uses the adjusted p.

**Family and replicates.** :func:`family_line` states a family's name, size, correction
and verdict counts in one sentence; :func:`replicates_needed` says how many replicates
bring the projected half-width to δ (at least :data:`N_MIN`, at most :data:`N_CAP`).

**Pooled effect** (:func:`pooled`). Across settings (models, datasets) the effect per
setting is its mean paired difference ``mⱼ``; the pooled effect is ``m̄ = mean(mⱼ)``,
with the interval ``m̄ ± t_{0.975, M−1} · sd(mⱼ)/√M`` over the M setting means. Its
spread holds both the model-to-model variation of the effect and each mean's own noise:
the two-stage (summary-statistics) analysis of a random-effects model, exact for
balanced replicates. It replaces counting settings whose own interval excludes 0.

The 2 × 2 factorial contrasts built on these live in :mod:`softjax.sweeps.factorial`.

>>> est = paired_estimate([0.91, 0.88, 0.90, 0.93], [0.90, 0.86, 0.90, 0.91])
>>> round(est.mean, 4), round(est.half_width(), 4)
(0.0125, 0.0152)
>>> [v.verdict for v in decide({"a − b": est}, family="demo", delta=0.05)]
['equivalent']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from softjax.sweeps.tdist import t_cdf, t_quantile, t_sf

ALPHA = 0.05
VERDICTS = ("higher", "lower", "equivalent", "inconclusive")
N_MIN = 10
N_CAP = 30


@dataclass(frozen=True)
class Estimate:
    """A difference ``mean`` with standard error ``se`` on ``df`` degrees of freedom.

    ``n`` counts the units the interval is over (replicates, or settings for a pooled
    effect); ``method`` says which; ``parts`` holds the per-setting means of a pooled
    effect. A zero ``se`` (identical differences) gives p = 0 for a nonzero mean and 1
    for a zero mean."""

    mean: float
    se: float
    df: float
    n: int
    method: str = "paired"
    parts: tuple[float, ...] = field(default=())

    def half_width(self, level: float = 0.95) -> float:
        """``t_{(1+level)/2, df} · se``, the half-width of the two-sided interval."""
        return t_quantile(0.5 + level / 2, self.df) * self.se

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """``mean ∓ half_width(level)``."""
        h = self.half_width(level)
        return self.mean - h, self.mean + h

    def p_value(self) -> float:
        """Two-sided p of "mean = 0": ``2 · P(T_df > |mean|/se)``."""
        if self.se == 0:
            return 0.0 if self.mean != 0 else 1.0
        return min(1.0, 2.0 * t_sf(abs(self.mean) / self.se, self.df))

    def p_equivalence(self, delta: float) -> float:
        """TOST p of "|mean| ≥ delta": ``max(P(T > (mean+δ)/se), P(T < (mean−δ)/se))``."""
        delta = _check_delta(delta)
        if self.se == 0:
            return 0.0 if abs(self.mean) < delta else 1.0
        return max(
            t_sf((self.mean + delta) / self.se, self.df),
            t_cdf((self.mean - delta) / self.se, self.df),
        )


def finite_values(name: str, values: Sequence[float]) -> list[float]:
    """``values`` as floats; a ValueError naming ``name`` when one is not finite."""
    out = [float(v) for v in values]
    bad = [v for v in out if not math.isfinite(v)]
    if bad:
        raise ValueError(f"{name}: expected finite numbers, got {bad[:3]} among {len(out)}")
    return out


def _check_delta(delta: float) -> float:
    try:
        value = float(delta)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"delta: expected a finite margin ≥ 0, got {delta!r}")
    return value


def mean_difference(differences: Sequence[float], method: str = "paired") -> Estimate:
    """The :class:`Estimate` of the mean of ``differences`` (one per replicate): mean,
    ``se = s/√n`` and ``df = n − 1``.

    Raises:
      ValueError: for fewer than two values or a non-finite one.
    """
    d = finite_values("differences", differences)
    if len(d) < 2:
        raise ValueError(f"differences: expected at least 2 replicates, got {len(d)}")
    n = len(d)
    mean = math.fsum(d) / n
    var = math.fsum((x - mean) ** 2 for x in d) / (n - 1)
    return Estimate(mean=mean, se=math.sqrt(var / n), df=n - 1, n=n, method=method)


def paired_estimate(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """The paired difference ``a − b``: ``a[i]`` and ``b[i]`` are replicate i of the two
    arms (same init, same data order). See the module docstring for the math.

    Raises:
      ValueError: naming ``a``/``b`` when their lengths differ or a value is not finite.
    """
    a, b = finite_values("a", a), finite_values("b", b)
    if len(a) != len(b):
        raise ValueError(
            f"a, b: expected one value per replicate in each, paired by position; got "
            f"{len(a)} and {len(b)}"
        )
    return mean_difference([x - y for x, y in zip(a, b, strict=True)])


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (module docstring).

    Each adjusted p is ≥ its raw p and ≤ 1, and the adjustment keeps the raw order.

    >>> holm([0.01, 0.04, 0.03, 0.005])
    [0.03, 0.06, 0.06, 0.02]
    """
    p = [float(x) for x in p_values]
    if any(not 0.0 <= x <= 1.0 for x in p):
        raise ValueError(f"p_values: expected probabilities in [0, 1], got {p}")
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Verdict:
    """One comparison's verdict, as data: what was compared, the estimate and its raw
    95% interval, the family it was corrected in (name, size), raw and Holm-adjusted p of
    the difference and of the equivalence test (margin ``delta``), and ``verdict``, one
    of :data:`VERDICTS`. :meth:`render` writes it as a sentence."""

    comparison: str
    verdict: str
    mean: float
    low: float
    high: float
    n: int
    df: float
    method: str
    delta: float
    alpha: float
    family: str
    family_size: int
    p: float
    p_adjusted: float
    p_equivalence: float
    p_equivalence_adjusted: float

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)

    def render(self, scale: float = 1.0, unit: str = "", digits: int = 2) -> str:
        """E.g. ``mse − cce: −18.90 pp [−28.00, −9.80] (n = 10, paired), lower (Holm p =
        0.0021 in "init 100", 12 comparisons; equivalence margin ±0.50 pp)``. ``scale``
        multiplies the numbers (100 for fractions as percentage points)."""

        def num(x: float) -> str:
            return f"{x * scale:+.{digits}f}".replace("-", "−")

        margin = f"{self.delta * scale:.{digits}f}{unit}"
        p = self.p_equivalence_adjusted if self.verdict == "equivalent" else self.p_adjusted
        test = "TOST " if self.verdict == "equivalent" else ""
        small = self.verdict in ("higher", "lower") and self.p_equivalence_adjusted < self.alpha
        verdict = f"{self.verdict}, yet within ±{margin}" if small else self.verdict
        return (
            f"{self.comparison}: {num(self.mean)}{unit} [{num(self.low)}, {num(self.high)}] "
            f"(n = {self.n}, {self.method}), {verdict} (Holm {test}p = {p:.2g} in "
            f'"{self.family}", {self.family_size} comparison'
            f"{'s' if self.family_size != 1 else ''}; equivalence margin ±{margin})"
        )


def decide(
    estimates: Mapping[str, Estimate],
    *,
    family: str,
    delta: float,
    alpha: float = ALPHA,
) -> list[Verdict]:
    """The four-way :class:`Verdict` of every comparison of one named ``family``, with
    Holm's correction over the family's difference tests and, separately, over its
    equivalence tests (module docstring). ``estimates`` maps each comparison's label to
    its :class:`Estimate`; the family's size is their number.

    Raises:
      ValueError: for an empty family, ``delta`` < 0 or ``alpha`` outside (0, 1).
    """
    delta = _check_delta(delta)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: expected a level in (0, 1), got {alpha!r}")
    if not estimates:
        raise ValueError(f"estimates: expected at least one comparison in {family!r}")
    names = list(estimates)
    p = [estimates[k].p_value() for k in names]
    p_eq = [estimates[k].p_equivalence(delta) for k in names]
    p_adj, p_eq_adj = holm(p), holm(p_eq)
    out = []
    for i, name in enumerate(names):
        est = estimates[name]
        if p_adj[i] < alpha:
            verdict = "higher" if est.mean > 0 else "lower"
        elif p_eq_adj[i] < alpha:
            verdict = "equivalent"
        else:
            verdict = "inconclusive"
        low, high = est.interval(0.95)
        out.append(
            Verdict(
                comparison=name,
                verdict=verdict,
                mean=est.mean,
                low=low,
                high=high,
                n=est.n,
                df=est.df,
                method=est.method,
                delta=delta,
                alpha=alpha,
                family=family,
                family_size=len(names),
                p=p[i],
                p_adjusted=p_adj[i],
                p_equivalence=p_eq[i],
                p_equivalence_adjusted=p_eq_adj[i],
            )
        )
    return out


def pooled(differences_by_setting: Mapping[Any, Sequence[float]]) -> Estimate:
    """The effect pooled over settings: the mean of the per-setting mean paired
    differences with a t-interval over those M means (``df = M − 1``; module docstring).

    ``differences_by_setting`` maps each setting (e.g. ``(model, dataset)``) to its
    per-replicate paired differences. With one setting there is no model-to-model spread
    to estimate: the result is that setting's paired :class:`Estimate`, and its
    ``method`` says so.

    >>> e = pooled({"mlp": [1.0, 2.0], "cnn": [3.0, 4.0], "lin": [5.0, 6.0]})
    >>> e.mean, e.se, e.df, e.parts
    (3.5, 1.1547005383792515, 2, (1.5, 3.5, 5.5))
    """
    if not differences_by_setting:
        raise ValueError("differences_by_setting: expected at least one setting, got none")
    means = []
    for key, d in differences_by_setting.items():
        d = finite_values(f"differences_by_setting[{key!r}]", d)
        if not d:
            raise ValueError(f"differences_by_setting[{key!r}]: expected replicates, got none")
        means.append(math.fsum(d) / len(d))
    if len(means) == 1:
        (only,) = differences_by_setting.values()
        return mean_difference(only, method="paired (one setting, no between-setting spread)")
    est = mean_difference(means, method=f"pooled over {len(means)} settings (random effects)")
    return Estimate(est.mean, est.se, est.df, est.n, est.method, tuple(means))


def sign_test(values: Sequence[float]) -> float:
    """Two-sided exact sign test p of "positive and negative equally likely" over the
    nonzero ``values``: ``min(1, 2 · P(X ≤ min(k, n − k)))``, ``X ~ Binomial(n, ½)``.

    >>> round(sign_test([-1.0] * 12), 6)  # 12 of 12 negative
    0.000488
    """
    v = [x for x in finite_values("values", values) if x != 0]
    n, k = len(v), sum(x > 0 for x in v)
    if n == 0:
        return 1.0
    tail = math.fsum(math.comb(n, j) for j in range(min(k, n - k) + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def family_line(verdicts: Sequence[Verdict], scale: float = 1.0, unit: str = "") -> str:
    """One sentence naming a family, its size, its correction and its verdict counts,
    for a summary's head: ``Family "init 10": 12 comparisons, Holm-corrected at α = 0.05,
    equivalence margin ±0.50 pp: 3 lower, 9 inconclusive.``

    Raises:
      ValueError: when the verdicts are not all of one family.
    """
    families = {(v.family, v.family_size, v.delta, v.alpha) for v in verdicts}
    if len(families) != 1:
        raise ValueError(f"verdicts: expected one family, got {sorted(families, key=repr)}")
    ((family, size, delta, alpha),) = families
    counts = [f"{sum(v.verdict == k for v in verdicts)} {k}" for k in VERDICTS]
    return (
        f'Family "{family}": {size} comparison{"s" if size != 1 else ""}, Holm-corrected at '
        f"α = {alpha:g}, equivalence margin ±{delta * scale:.2f}{unit}: "
        + ", ".join(c for c in counts if not c.startswith("0 "))
        + "."
    )


def replicates_needed(
    estimate: Estimate, delta: float, *, n_min: int = N_MIN, cap: int = N_CAP
) -> int:
    """How many paired replicates a comparison needs: at least ``n_min``, and more until
    the projected 95% half-width ``t_{0.975, n−1} · s/√n`` is at most ``delta`` (``s`` the
    current standard deviation of the differences, ``se · √n``), never more than ``cap``
    (then the interval stays wider than δ and the verdict may be inconclusive; the cap is
    stated with the results). Run the extra replicates and ask again: ``s`` changes.

    >>> pilot = mean_difference([0.01, -0.01, 0.02, 0.0, -0.02])  # s = 0.0158
    >>> replicates_needed(pilot, 0.01), replicates_needed(pilot, 0.05)
    (13, 10)
    """
    delta = _check_delta(delta)
    if not (isinstance(n_min, int) and isinstance(cap, int) and 2 <= n_min <= cap):
        raise ValueError(f"n_min, cap: expected ints with 2 ≤ n_min ≤ cap, got {n_min}, {cap}")
    s = estimate.se * math.sqrt(estimate.n)
    for n in range(max(n_min, estimate.n), cap + 1):
        if t_quantile(0.975, n - 1) * s / math.sqrt(n) <= delta:
            return n
    return max(cap, estimate.n)
