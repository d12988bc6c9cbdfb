"""The built-in losses: those of SPEC §1 and §3, five from the literature and the two
gradient-swap rules, each a pure ``loss(logits, labels, **kwargs) -> scalar`` batch mean
(registered in ``softjax.losses.LOSSES``).

``LOSSES[name](logits, labels)`` with ``logits`` of shape (N, K) and ``labels`` either
int class ids (N,) or target rows (N, K) (one-hot or probabilities):

==================== ====================================================== =====================
name                 per-sample value (ŷ = softmax(z), s = sigmoid(z))      source
==================== ====================================================== =====================
``cce``              −Σ_k y_k log ŷ_k                                       seed 000 eq. 5
``mse``              ½ Σ_k (ŷ_k − y_k)²                                     seed 000 part 3
``bce``              −Σ_k [y_k log ŷ_k + (1 − y_k) log(1 − ŷ_k)]            seed 000 part 3
``sigmoid_bce``      −Σ_k [y_k log s_k + (1 − y_k) log(1 − s_k)]            seed 001, 003
``square``           ½ Σ_k (z_k − y_k)²  on the raw logits                  seed 000 part 1
``square_rescaled``  (1/K)[k·(z_y − M)² + Σ_{c≠y} z_c²]                     Hui & Belkin 2021
``mae``              Σ_k |ŷ_k − y_k|                                        Ghosh et al. 2017
``sigmoid_mse``      ½ Σ_k (s_k − y_k)²                                     Nielsen 2015, ch. 3
``cce_smoothed``     cce on (1 − ε) y + ε/K                                 Szegedy et al. 2016
``gce``              Σ_k y_k (1 − ŷ_k^q)/q, i.e. (1 − ŷ_y^q)/q              Zhang & Sabuncu 2018
``cce_dir_mse_norm`` cce's value; gradient g_CE·‖g_MSE‖/‖g_CE‖ per row     gradient-swap study
``mse_dir_cce_norm`` mse's value; gradient g_MSE·‖g_CE‖/‖g_MSE‖ per row    gradient-swap study
==================== ====================================================== =====================

Every loss takes a BATCH, logits (N, K), N ≥ 1, and returns the mean over its rows (one
sample: ``z[None]``, ``y[None]``). Softmax losses need K ≥ 2 and target rows summing to
1; sigmoid losses take targets in [0, 1], (N,) when K = 1; the square losses take real
targets. Logs are taken in log space, and a zero target never multiplies an infinite log
(optax#896).

**One record per loss.** Each function here carries its :class:`LossRecord` (``.record``):
the function, its value and closed-form gradient kernels (``softjax.loss_kernels``), what
its targets must be, what labels it receives and its display colour; ``softjax.losses``
registers them. ``jax.grad`` through a built-in runs its closed form
(:func:`~softjax.loss_kernels.closed_form_loss`), so training, sweeps and users' own
``jax.grad`` all see the gradients that stay accurate in float32 where the softmax
saturates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp  # noqa: F401  (the doctests use it)

from softjax import _checks
from softjax import loss_kernels as K
from softjax.targets import logits_and_targets


class LossRecord(NamedTuple):
    """Everything softjax knows about one loss, in one place.

    Attributes:
      name: the registry name.
      function: ``function(logits, labels, **kwargs) -> scalar batch mean`` (a built-in
        validates its arguments; a user's is called as given).
      kernel: the value on float target rows ``kernel(z, y, **kwargs)``, unchecked, or
        None (users' losses).
      kernel_grad: the closed-form per-sample ∂ℓ_i/∂z_i on float rows, unchecked, or None.
      logits_grad: a user's closed-form ∂(mean)/∂logits ``(logits, labels, **kwargs)``,
        or None (built-ins derive theirs from ``kernel_grad``).
      target_kind: what target values must be, one of ``softjax.targets.TARGET_KINDS``.
      labels: what ``function`` receives: ``"any"`` (as given), ``"ids"`` (class ids,
        (N,) int; one-hot rows are converted) or ``"rows"`` (float rows (N, K); ids are
        one-hot encoded). See :func:`register_loss`.
      colour: its colour in every figure (a matplotlib colour).
      builtin: whether softjax defines it.
    """

    name: str
    function: Callable
    kernel: Callable | None = None
    kernel_grad: Callable | None = None
    logits_grad: Callable | None = None
    target_kind: str = "real"
    labels: str = "any"
    colour: str = "tab:gray"
    builtin: bool = False


def _builtin(colour: str, target_kind: str):
    """Attaches the built-in's :class:`LossRecord`, its kernels taken from
    ``softjax.loss_kernels`` by name, as ``function.record``."""

    def attach(function):
        name = function.__name__
        function.record = LossRecord(
            name,
            function,
            kernel=getattr(K, name),
            kernel_grad=getattr(K, f"{name}_grad"),
            target_kind=target_kind,
            colour=colour,
            builtin=True,
        )
        return function

    return attach


def _call(function, logits, labels, **params):
    """Validates, then the record's value kernel with its closed-form derivative."""
    record = function.record
    z, y = logits_and_targets(logits, labels, record)
    return K.closed_form_loss(record.kernel, record.kernel_grad, z, y, params)


@_builtin("tab:blue", "distribution")
def cce(logits, labels):
    r"""Categorical cross-entropy on softmax (seed 000 eq. 5; seed 002's LSE form):
    :math:`-\frac1N \sum_i \sum_k y_{ik} \log \mathrm{softmax}(z_i)_k`, with
    :math:`\log \mathrm{softmax}(z)_k = z_k - \mathrm{LSE}(z)`.

    >>> float(cce(jnp.array([[0.0, 0.0]]), jnp.array([1])))  # log 2
    0.6931471...
    """
    return _call(cce, logits, labels)


@_builtin("tab:red", "distribution")
def mse(logits, labels):
    r"""Squared error on softmax outputs (seed 000 part 3):
    :math:`\frac1N \sum_i \tfrac12 \sum_k (\hat y_{ik} - y_{ik})^2`. Its gradient carries
    ŷ(1 − ŷ) factors that vanish when the softmax saturates (SPEC §6).

    >>> float(mse(jnp.array([[0.0, 0.0]]), jnp.array([1])))  # ½(¼ + ¼)
    0.25
    """
    return _call(mse, logits, labels)


@_builtin("tab:orange", "distribution")
def bce(logits, labels):
    r"""Binary cross-entropy on softmax outputs, summed over classes (seed 000 part 3):
    :math:`-\frac1N \sum_i \sum_k [y_{ik} \log \hat y_{ik} + (1-y_{ik})\log(1-\hat y_{ik})]`.

    It treats the K softmax outputs as independent Bernoullis although they sum to 1
    (SPEC §3). :math:`\log(1-\hat y)` is :func:`~softjax.numerics.log1m_softmax`, exact
    even for equal or huge logits.

    >>> float(bce(jnp.array([[0.0, 0.0]]), jnp.array([1])))  # 2 log 2
    1.3862943...
    """
    return _call(bce, logits, labels)


@_builtin("tab:green", "unit")
def sigmoid_bce(logits, labels):
    r"""One-vs-rest BCE on K independent sigmoids (seed 001, seed 003; K = 1 is seed 000
    part 1's logistic regression):
    :math:`\frac1N \sum_i \sum_k [y_{ik}\,\mathrm{softplus}(-z_{ik}) + (1-y_{ik})\,
    \mathrm{softplus}(z_{ik})]`, i.e. −y log σ(z) − (1 − y) log(1 − σ(z)).

    Labels: targets in [0, 1], rows (N, K), (N,) 0/1 when K = 1, or int ids when K ≥ 2.

    >>> float(sigmoid_bce(jnp.array([[0.0]]), jnp.array([1.0])))  # log 2
    0.6931471...
    """
    return _call(sigmoid_bce, logits, labels)


@_builtin("tab:purple", "real")
def square(logits, labels):
    r"""Square loss on raw logits, no softmax (seed 000 part 1):
    :math:`\frac1N \sum_i \tfrac12 \sum_k (z_{ik} - y_{ik})^2`. Linear regression's loss,
    with real targets ((N,) when K = 1), and on one-hot rows the square loss of Hui & Belkin
    (2021) up to the constant 2/K (see :func:`square_rescaled`).

    The value overflows to ``inf`` once |z − y| ≳ 1.8e19 in float32 and bfloat16
    (≳ 1.3e154 in float64): it is not representable. The gradient z − y stays finite.

    >>> float(square(jnp.array([[1.0, 2.0]]), jnp.array([[0.0, 0.0]])))  # ½(1 + 4)
    2.5
    """
    return _call(square, logits, labels)


@_builtin("tab:pink", "real")
def square_rescaled(logits, labels, k=1.0, M=1.0):
    r"""Hui & Belkin's (2021) square loss for many classes ("Evaluation of Neural
    Architectures Trained with Square Loss vs Cross-Entropy in Classification Tasks",
    ICLR 2021, §4: rescaling with k and M):

    .. math:: \ell = \frac1K\Big[k\,(z_y - M)^2 + \sum_{c \ne y} z_c^2\Big],

    for a target row y: :math:`\frac1K \sum_c (1 + (k-1) y_c)(z_c - M y_c)^2`. With
    k = M = 1 it is (2/K)·:func:`square`. Overflows like :func:`square` for huge logits.

    >>> z = jnp.array([[1.0, 2.0]])
    >>> float(square_rescaled(z, jnp.array([0]), k=2.0, M=3.0))  # ½[2·(1 − 3)² + 2²]
    6.0
    """
    _checks.positive_float(k, "k")
    return _call(square_rescaled, logits, labels, k=k, M=M)


@_builtin("tab:brown", "distribution")
def mae(logits, labels):
    r"""Mean absolute error on softmax outputs, :math:`\frac1N \sum_i \sum_k |\hat y_{ik} -
    y_{ik}|` (Ghosh, Kumar & Sastry 2017, "Robust Loss Functions under Label Noise for
    Deep Neural Networks", AAAI: symmetric, hence robust to label noise). For one-hot y it
    is 2(1 − ŷ_y).

    >>> float(mae(jnp.array([[0.0, 0.0]]), jnp.array([1])))  # ½ + ½
    1.0
    """
    return _call(mae, logits, labels)


@_builtin("tab:olive", "unit")
def sigmoid_mse(logits, labels):
    r"""The quadratic cost on sigmoid outputs,
    :math:`\frac1N \sum_i \tfrac12 \sum_k (\sigma(z_{ik}) - y_{ik})^2` (Nielsen, *Neural
    Networks and Deep Learning*, 2015, ch. 3: its gradient (σ − y)σ(1 − σ) vanishes when a
    sigmoid saturates, the learning slowdown that cross-entropy removes). Labels as for
    :func:`sigmoid_bce`.

    >>> float(sigmoid_mse(jnp.array([[0.0]]), jnp.array([1.0])))  # ½ (½)²
    0.125
    """
    return _call(sigmoid_mse, logits, labels)


@_builtin("tab:cyan", "distribution")
def cce_smoothed(logits, labels, smoothing=0.1):
    r"""Label-smoothed cross-entropy (Szegedy et al. 2016, "Rethinking the Inception
    Architecture for Computer Vision", §7): :func:`cce` on the targets
    :math:`(1 - \varepsilon)\,y + \varepsilon/K`, ε = ``smoothing`` in [0, 1].

    >>> float(cce_smoothed(jnp.array([[0.0, 0.0]]), jnp.array([1]), smoothing=0.2))  # log 2
    0.6931471...
    """
    if not (_checks.is_real(smoothing) and 0 <= smoothing <= 1):
        raise ValueError(f"smoothing: expected a real number in [0, 1], got {smoothing!r}")
    return _call(cce_smoothed, logits, labels, smoothing=smoothing)


@_builtin("goldenrod", "distribution")
def gce(logits, labels, q=0.7):
    r"""Generalised cross-entropy (Zhang & Sabuncu 2018, "Generalized Cross Entropy Loss
    for Training Deep Neural Networks with Noisy Labels", NeurIPS, eq. 6), the
    negative Box-Cox transform of the label's probability:

    .. math:: \ell_q = \frac{1 - \hat y_y^{\,q}}{q},\qquad q \in (0, 1],

    for a target row :math:`\sum_k y_k (1 - \hat y_k^q)/q`. It tends to :func:`cce` as
    q → 0 and is ½ :func:`mae` at q = 1; between them it trades CE's fast fitting for
    MAE's robustness to noisy labels. ∂ℓ/∂z = p ⊙ Σ_k w_k − w with w_k = y_k ŷ_k^q: CE's
    gradient weighted by ŷ_y^q.

    >>> float(gce(jnp.array([[0.0, 0.0]]), jnp.array([1]), q=1.0))  # 1 − ½
    0.5
    """
    if not (_checks.is_real(q) and 0 < q <= 1):
        raise ValueError(f"q: expected a real number in (0, 1], got {q!r}")
    return _call(gce, logits, labels, q=q)


@_builtin("navy", "distribution")
def cce_dir_mse_norm(logits, labels):
    r"""The gradient-swap rule "CE's direction at MSE's norm": per sample the logit
    gradient is :math:`g_{CE}\,\lVert g_{MSE}\rVert / \lVert g_{CE}\rVert` (0 where
    :math:`g_{CE} = 0`), with g the per-sample gradients of :func:`cce` and :func:`mse`.

    The rule is not the gradient of any loss, so its value is defined as that of the
    direction's loss, CE: the surrogate :math:`\tilde L(z') = \frac1N\sum_i [\ell_i(z_i) +
    s_i(\ell_i(z'_i) - \ell_i(z_i))]`, :math:`s_i = \lVert g_{MSE,i}\rVert/\lVert
    g_{CE,i}\rVert` and :math:`\ell_i(z_i)` held fixed, equals the CE value at z' = z and
    its gradient there is the rule (each sample's step descends its own CE). ``jax.grad``
    returns the closed form; MSE's norm comes from its cancellation-free gradient.

    >>> float(cce_dir_mse_norm(jnp.array([[0.0, 0.0]]), jnp.array([1])))  # cce: log 2
    0.6931471...
    """
    return _call(cce_dir_mse_norm, logits, labels)


@_builtin("salmon", "distribution")
def mse_dir_cce_norm(logits, labels):
    r"""The gradient-swap rule "MSE's direction at CE's norm": per sample
    :math:`g_{MSE}\,\lVert g_{CE}\rVert / \lVert g_{MSE}\rVert` (0 where
    :math:`g_{MSE} = 0`). Its value is :func:`mse`'s, as for :func:`cce_dir_mse_norm`
    (the surrogate with :math:`s_i = \lVert g_{CE,i}\rVert/\lVert g_{MSE,i}\rVert` held
    fixed). The rescaling multiplies MSE's saturated gradient by up to ~1e7 in float32,
    so it rests on MSE's cancellation-free closed form.

    >>> float(mse_dir_cce_norm(jnp.array([[0.0, 0.0]]), jnp.array([1])))  # mse: ¼
    0.25
    """
    return _call(mse_dir_cce_norm, logits, labels)
