"""Closed forms that bound what SGD on the square loss can reach in softmax regression.

For a linear model z = W x + b on the square loss (``square``,
L(W, b) = (1/N) Σ_i ½ ‖z_i − y_i‖², one-hot y_i; seed 000 part 1) both the optimum and the
largest stable learning rate have closed forms in the augmented inputs a_i = (x_i, 1)
(A = [X 1], N × (D + 1)):

* the **least-squares ceiling**: the minimiser solves the normal equations
  AᵀA Θ = AᵀY (Θ = [W; b], (D + 1) × K). MNIST has constant pixels, so AᵀA is singular;
  :func:`least_squares_ceiling` takes the minimum-norm solution Θ = (AᵀA)⁺ AᵀY, in
  float64, from the eigendecomposition of AᵀA (the solution ``numpy.linalg.lstsq``
  returns). The accuracy of argmax_k z_k on the test set at Θ is what square loss can
  reach with this model: SGD on it converges to this Θ, whatever the lr;
* the **stable-lr bound**: the loss is quadratic with Hessian H = (AᵀA / N) ⊗ I_K
  (identical for each class's column), so full-batch gradient descent converges iff
  lr < 2 / λ_max(AᵀA / N) (Nesterov, *Introductory Lectures on Convex Optimization*,
  §1.2.3; LeCun, Bottou, Orr & Müller, *Efficient BackProp*, 1998, §5). Minibatch SGD
  sees a noisy H and diverges near the same lr: the bound is what the lr grid has to
  straddle, not an exact threshold for it.
"""

from __future__ import annotations

import numpy as np

_RCOND = 1e-10
"""Eigenvalues of AᵀA below ``_RCOND · λ_max`` count as zero (the constant pixels)."""


def augmented(x) -> np.ndarray:
    """A = [X 1] in float64, images flattened to rows: the linear model's inputs with
    the bias as a last constant column."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    return np.concatenate([x, np.ones((len(x), 1))], axis=1)


def _one_hot(y, num_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2:
        return y.astype(np.float64)
    return np.eye(num_classes)[y]


def least_squares_fit(x, y, num_classes: int) -> np.ndarray:
    """The minimum-norm Θ = (AᵀA)⁺ AᵀY, ((D + 1) × K) float64, of the normal equations
    (see the module docstring). ``y``: int class ids (N,) or target rows (N, K)."""
    a = augmented(x)
    gram = a.T @ a
    eigvals, eigvecs = np.linalg.eigh(gram)
    keep = eigvals > _RCOND * eigvals[-1]
    inverse = (eigvecs[:, keep] / eigvals[keep]) @ eigvecs[:, keep].T
    return inverse @ (a.T @ _one_hot(y, num_classes))


def accuracy(theta: np.ndarray, x, y) -> float:
    """The fraction of rows whose argmax logit under Θ is the label."""
    y = np.asarray(y)
    labels = y.argmax(axis=1) if y.ndim == 2 else y
    return float(np.mean((augmented(x) @ theta).argmax(axis=1) == labels))


def least_squares_ceiling(data, num_classes: int = 10) -> dict[str, float]:
    """Accuracy of the exact least-squares linear model on each split of ``data``.

    ``data``: a ``Dataset`` (or anything with ``x_train``, ``y_train``, ``x_test``,
    ``y_test`` and optionally ``x_val``, ``y_val``); the fit uses the training split only.

    Returns:
      ``{"train_accuracy", ["val_accuracy",] "test_accuracy", "train_loss"}``; the square
      loss (1/N) Σ ½ ‖z − y‖² at the optimum on the training split.
    """
    theta = least_squares_fit(data.x_train, data.y_train, num_classes)
    residual = augmented(data.x_train) @ theta - _one_hot(data.y_train, num_classes)
    out = {
        "train_accuracy": accuracy(theta, data.x_train, data.y_train),
        "train_loss": float(0.5 * np.mean(np.sum(residual**2, axis=1))),
    }
    if getattr(data, "x_val", None) is not None:
        out["val_accuracy"] = accuracy(theta, data.x_val, data.y_val)
    out["test_accuracy"] = accuracy(theta, data.x_test, data.y_test)
    return out


def hessian_lambda_max(x) -> float:
    """λ_max(AᵀA / N), the square loss's largest Hessian eigenvalue for a linear model
    with bias (float64, ``numpy.linalg.eigvalsh``)."""
    a = augmented(x)
    return float(np.linalg.eigvalsh(a.T @ a / len(a))[-1])


def square_loss_lr_bound(x) -> float:
    """2 / λ_max(AᵀA / N): gradient descent on the square loss of a linear model with bias
    diverges above this lr (see the module docstring)."""
    return 2.0 / hessian_lambda_max(x)
