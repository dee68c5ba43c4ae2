"""The GP bandit's surrogate, written out: signal * exp(-Hamming / length) + noise, MAP-fitted.

Same model as `gp_model.Surrogate` with ``kernel="hamming"`` (kernel, priors, bounds and
standardised targets are shared with it, via `gp_model.build_kernel`'s prior), but the log
posterior and its gradient are computed directly instead of through scikit-learn.

Why that is faster than the library: scikit-learn's `GaussianProcessRegressor` asks the
kernel for its gradient as an ``(n, n, n_hyperparameters)`` array and contracts it with an
``(n, n)`` matrix one hyperparameter at a time; with one length scale per variable (23 of them
here) that array dominates a fit.  For a Hamming kernel on one-hot codes the contraction has a
closed form that needs no such array: with W = K^-1 - alpha alpha^T and M = W * K_signal,

    sum_ij M_ij d_g(i, j) = sum_i r_i |x_i,g|^2 - sum_{c in g} sum_i x_ic (M X)_ic,   r = M 1

(d_g half the squared distance of group g's columns), so every length scale's gradient comes
from one ``(n, n) @ (n, D)`` product shared by all groups.

Hyperparameters: ``theta = [log signal, log length_1..G, log noise]`` (scikit-learn's order).
`fit_theta` runs L-BFGS-B from given starting points; a caller warm-starts it from the last
fit's theta and adds random restarts (drawn from the prior) only now and then.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import cho_solve, cholesky, lapack, solve_triangular
from scipy.optimize import minimize

from nas.controllers.gp_model import (LENGTH_SCALE_BOUNDS, NOISE_BOUNDS, SIGNAL_BOUNDS, Prior, log_normal_prior,
                                      weighted_hamming)

JITTER = 1e-10


def hamming_prior(groups: list[tuple[int, int]]) -> Prior:
    """The prior of `gp_model.build_kernel("hamming", ...)`: log-normal around 1, G and 1e-3."""
    return log_normal_prior(len(groups), math.log(len(groups)))


def theta_bounds(groups: list[tuple[int, int]]) -> np.ndarray:
    """Bounds of theta on the log scale, (G + 2, 2)."""
    rows = [SIGNAL_BOUNDS] + [LENGTH_SCALE_BOUNDS] * len(groups) + [NOISE_BOUNDS]
    return np.log(np.array(rows, dtype=float))


class HammingKernel:
    """exp(-sum_g d_g(x, y) / l_g) over column groups (the base kernel, signal 1)."""

    def __init__(self, groups: list[tuple[int, int]], width: int) -> None:
        self.groups = list(groups)
        self.group_of = np.zeros(width, dtype=int)  # column -> group index
        for g, (start, stop) in enumerate(self.groups):
            self.group_of[start:stop] = g

    def __call__(self, A: np.ndarray, B: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Kernel matrix between rows of A (n, D) and B (m, D), (n, m)."""
        return weighted_hamming(A, B, 1.0 / length[self.group_of])

    def group_contractions(self, X: np.ndarray, M: np.ndarray) -> np.ndarray:
        """sum_ij M_ij d_g(i, j) for every group g, M symmetric (n, n); (G,)."""
        MX = M @ X  # (n, D)
        r = M.sum(1)  # (n,)
        per_column = (r[:, None] * X * X).sum(0) - (X * MX).sum(0)  # (D,)
        return np.bincount(self.group_of, weights=per_column, minlength=len(self.groups))


def neg_log_posterior(theta: np.ndarray, X: np.ndarray, y: np.ndarray, known: np.ndarray, kernel: HammingKernel,
                      prior: Prior) -> tuple[float, np.ndarray]:
    """-(log marginal likelihood + log prior) of standardised targets y (n,) and its gradient."""
    signal, length, noise = math.exp(theta[0]), np.exp(theta[1:-1]), math.exp(theta[-1])
    Ks = signal * kernel(X, X, length)  # (n, n)
    K = Ks + np.diag(noise + known + JITTER)
    try:
        L = cholesky(K, lower=True)
    except np.linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = cho_solve((L, True), y)  # (n,)
    nll = 0.5 * y @ alpha + np.log(np.diag(L)).sum() + 0.5 * len(y) * math.log(2 * math.pi)
    inverse, info = lapack.dpotri(L, lower=1)  # K^-1 from the Cholesky factor, lower triangle only
    if info:
        return 1e25, np.zeros_like(theta)
    inverse = np.tril(inverse) + np.tril(inverse, -1).T
    W = inverse - np.outer(alpha, alpha)  # (n, n)
    M = W * Ks
    grad = np.empty_like(theta)
    grad[0] = 0.5 * M.sum()
    grad[1:-1] = 0.5 * kernel.group_contractions(X, M) / length
    grad[-1] = 0.5 * noise * np.trace(W)
    log_prior, prior_grad = prior.log_density(theta)
    return float(nll - log_prior), grad - prior_grad


def fit_theta(X: np.ndarray, y: np.ndarray, known: np.ndarray, groups: list[tuple[int, int]],
              starts: list[np.ndarray], max_iter: int = 200, ftol: float = 1e-7) -> tuple[np.ndarray, float]:
    """The MAP theta over L-BFGS-B runs from `starts`, and its negative log posterior.

    `ftol` is L-BFGS-B's relative tolerance on the objective (scipy's default, 2e-9, spends half
    of the evaluations on digits that do not change a prediction).
    """
    kernel, prior, bounds = HammingKernel(groups, X.shape[1]), hamming_prior(groups), theta_bounds(groups)
    best: tuple[np.ndarray, float] | None = None
    for start in starts:
        start = np.clip(start, bounds[:, 0], bounds[:, 1])
        result = minimize(neg_log_posterior, start, args=(X, y, known, kernel, prior), jac=True, method="L-BFGS-B",
                          bounds=bounds, options={"maxiter": max_iter, "ftol": ftol})
        if best is None or result.fun < best[1]:
            best = (np.asarray(result.x), float(result.fun))
    assert best is not None
    return best


class HammingGP:
    """Exact GP posterior for fixed theta on codes X (n, D); targets standardised internally.

    `known` (n,) is each observation's known noise variance in the units of y squared (e.g. a
    squared standard error), added to the kernel's own noise.  `predict` returns the mean and
    the standard deviation of a new *observation* (the kernel's noise included, as
    scikit-learn's `predict` does with a `WhiteKernel`), in the units of y.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, groups: list[tuple[int, int]], theta: np.ndarray,
                 known: np.ndarray | None = None, y_mean: float | None = None, y_std: float | None = None) -> None:
        self.X, self.y, self.groups, self.theta = X, np.asarray(y, dtype=float), groups, np.asarray(theta, dtype=float)
        self.y_mean = float(np.mean(self.y)) if y_mean is None else y_mean
        self.y_std = (float(np.std(self.y)) or 1.0) if y_std is None else y_std
        self.known = np.zeros(len(X)) if known is None else np.asarray(known, dtype=float) / self.y_std**2
        self.kernel = HammingKernel(groups, X.shape[1])
        self.signal, self.length, self.noise = math.exp(theta[0]), np.exp(theta[1:-1]), math.exp(theta[-1])
        K = self.signal * self.kernel(X, X, self.length) + np.diag(self.noise + self.known + JITTER)  # (n, n)
        self.L = cholesky(K, lower=True)
        self.alpha = cho_solve((self.L, True), (self.y - self.y_mean) / self.y_std)  # (n,)

    def predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation at codes Z (m, D), each (m,)."""
        Ks = self.signal * self.kernel(Z, self.X, self.length)  # (m, n)
        V = solve_triangular(self.L, Ks.T, lower=True, check_finite=False)  # (n, m)
        var = np.maximum(self.signal + self.noise - (V * V).sum(0), 1e-18)
        return self.y_mean + self.y_std * (Ks @ self.alpha), self.y_std * np.sqrt(var)

    def with_believed(self, F: np.ndarray) -> "HammingGP":
        """This posterior also conditioned on rows F (k, D) observed at its own mean (kriging believer)."""
        if not len(F):
            return self
        mean, _ = self.predict(F)
        known = np.concatenate([self.known * self.y_std**2, np.zeros(len(F))])
        return HammingGP(np.vstack([self.X, F]), np.concatenate([self.y, mean]), self.groups, self.theta, known,
                         self.y_mean, self.y_std)
