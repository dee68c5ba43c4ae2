"""The GP bandit's surrogate: a scikit-learn Gaussian process over cell codes.

Kernel: ``signal * base + noise`` where ``base`` is one of

- ``hamming`` (default): k(x, y) = exp(-sum_g d_g(x, y) / l_g) over the code's variable
  groups, d_g the number of differing entries of group g divided by two (1 when a one-hot
  variable takes another value, 1/2 when it is active in one cell only).  One length scale
  per *variable*, not per column: the exponentiated Hamming kernel of categorical BO.
- ``matern``: scikit-learn's Matern 5/2 with one length scale per column (ARD on one-hot
  codes), for comparison.

Hyperparameters are fitted by maximum a posteriori, not maximum likelihood: log-normal priors
(Gaussian on the log scale scikit-learn optimises) keep 20-60 observations from fitting one
length scale per variable to noise.  Length scales centre on the number of groups (so that a
typical pair of random cells is moderately correlated), the signal variance on 1 (targets are
normalised) and the noise on 1e-3 of it, each with a wide spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import minimize
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    ConstantKernel,
    Hyperparameter,
    Kernel,
    Matern,
    NormalizedKernelMixin,
    StationaryKernelMixin,
    WhiteKernel,
)

LENGTH_SCALE_BOUNDS = (1e-2, 1e4)
SIGNAL_BOUNDS = (1e-2, 1e2)
NOISE_BOUNDS = (1e-6, 1.0)


def weighted_hamming(A: np.ndarray, B: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """exp(-sum_c w_c (a_c - b_c)^2 / 2) between rows of A (n, D) and B (m, D), (n, m)."""
    Aw = A * weights
    sq = (Aw * A).sum(1)[:, None] + (B * weights * B).sum(1)[None, :] - 2.0 * Aw @ B.T  # (n, m)
    return np.exp(-0.5 * np.maximum(sq, 0.0))


def log_normal_prior(count: int, length_mean: float) -> "Prior":
    """Priors on [log signal, `count` log length scales, log noise]: centred on 1, `length_mean`, 1e-3."""
    mean = np.concatenate([[0.0], np.full(count, length_mean), [math.log(1e-3)]])
    std = np.concatenate([[1.0], np.full(count, 1.5), [3.0]])
    return Prior(mean, std)


class GroupedHamming(StationaryKernelMixin, NormalizedKernelMixin, Kernel):
    """exp(-sum_g d_g(x, y) / l_g) with d_g half the squared distance of group g's columns."""

    def __init__(self, groups: tuple[tuple[int, int], ...], length_scale: float | np.ndarray = 1.0,
                 length_scale_bounds: tuple[float, float] = LENGTH_SCALE_BOUNDS) -> None:
        self.groups = groups
        self.length_scale = length_scale
        self.length_scale_bounds = length_scale_bounds

    @property
    def hyperparameter_length_scale(self) -> Hyperparameter:
        """One length scale per group."""
        return Hyperparameter("length_scale", "numeric", self.length_scale_bounds, len(self.groups))

    def _scales(self) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.length_scale, dtype=float), (len(self.groups),))

    def _column_weights(self, width: int) -> np.ndarray:
        weights = np.zeros(width)
        for (start, stop), scale in zip(self.groups, self._scales()):
            weights[start:stop] = 1.0 / scale
        return weights

    def __call__(self, X: np.ndarray, Y: np.ndarray | None = None, eval_gradient: bool = False):
        X = np.atleast_2d(X)
        if Y is None and eval_gradient:
            D = self._group_distances(X)  # (n, n, G)
            K = np.exp(-(D @ (1.0 / self._scales())))  # (n, n)
            if self.hyperparameter_length_scale.fixed:
                return K, np.empty((X.shape[0], X.shape[0], 0))
            return K, K[:, :, None] * (D / self._scales())  # dK / d log(l_g), (n, n, G)
        if eval_gradient:
            raise ValueError("gradient only available when Y is None")
        return weighted_hamming(X, X if Y is None else np.atleast_2d(Y), self._column_weights(X.shape[1]))

    def _group_distances(self, X: np.ndarray) -> np.ndarray:
        """d_g for every pair of rows of X, (n, n, G); remembered for the last X (a fit reuses it)."""
        cached = getattr(self, "_cache", None)
        if cached is not None and cached[0] is X:
            return cached[1]
        D = np.empty((X.shape[0], X.shape[0], len(self.groups)))
        for g, (start, stop) in enumerate(self.groups):
            part = X[:, start:stop]
            norms = (part * part).sum(1)
            D[:, :, g] = 0.5 * np.maximum(norms[:, None] + norms[None, :] - 2.0 * part @ part.T, 0.0)
        self._cache = (X, D)
        return D

    def __repr__(self) -> str:
        scales = ", ".join(f"{s:.3g}" for s in self._scales())
        return f"GroupedHamming(length_scale=[{scales}])"


@dataclass(frozen=True)
class Prior:
    """Independent normal priors on the log hyperparameters, in scikit-learn's theta order."""

    mean: np.ndarray
    std: np.ndarray

    def log_density(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Log prior (up to a constant) and its gradient."""
        z = (theta - self.mean) / self.std
        return float(-0.5 * (z * z).sum()), -z / self.std


def build_kernel(kind: str, groups: list[tuple[int, int]], width: int) -> tuple[Kernel, Prior]:
    """The kernel ``signal * base + noise`` and the prior of its hyperparameters."""
    if kind == "hamming":
        count = len(groups)
        base: Kernel = GroupedHamming(tuple(groups), np.full(count, float(count)))
        ls_mean = math.log(count)
    elif kind == "matern":
        count = width
        base = Matern(length_scale=np.full(width, math.sqrt(width)), length_scale_bounds=LENGTH_SCALE_BOUNDS, nu=2.5)
        ls_mean = 0.5 * math.log(width)
    else:
        raise ValueError(f"unknown kernel {kind!r} (known: hamming, matern)")
    kernel = ConstantKernel(1.0, SIGNAL_BOUNDS) * base + WhiteKernel(1e-3, NOISE_BOUNDS)
    return kernel, log_normal_prior(count, ls_mean)


Optimizer = Callable[[Callable, np.ndarray, np.ndarray], tuple[np.ndarray, float]]


def map_optimizer(prior: Prior) -> Optimizer:
    """A scikit-learn GP `optimizer` that maximises likelihood times `prior` (L-BFGS-B)."""

    def optimizer(obj_func: Callable, initial_theta: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, float]:
        """Minimise the negative log posterior from `initial_theta` within `bounds`."""

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            """Negative log posterior and its gradient."""
            nll, grad = obj_func(theta, eval_gradient=True)
            log_prior, prior_grad = prior.log_density(theta)
            return nll - log_prior, grad - prior_grad

        result = minimize(objective, initial_theta, jac=True, method="L-BFGS-B", bounds=bounds)
        return result.x, float(result.fun)

    return optimizer


class Surrogate:
    """A GP over codes with targets standardised by the observed mean and spread."""

    def __init__(self, gp: GaussianProcessRegressor, y_mean: float, y_std: float) -> None:
        self.gp = gp
        self.y_mean = y_mean
        self.y_std = y_std
        self.alpha = np.broadcast_to(np.asarray(gp.alpha, dtype=float), (len(gp.y_train_),)).copy()  # (n,)

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, groups: list[tuple[int, int]], kernel: str = "hamming",
            restarts: int = 2, seed: int = 0, noise: np.ndarray | None = None) -> "Surrogate":
        """Fit the kernel's hyperparameters by MAP to codes `X` (n, D) and values `y` (n,).

        `noise` (n,), when given, is each observation's known noise variance in the units of
        y squared (e.g. a squared standard error); it is added to the kernel's own noise term.
        """
        y_mean, y_std = float(np.mean(y)), float(np.std(y)) or 1.0
        base, prior = build_kernel(kernel, groups, X.shape[1])
        alpha = 1e-10 if noise is None else np.asarray(noise, dtype=float) / y_std**2 + 1e-10
        gp = GaussianProcessRegressor(
            kernel=base, alpha=alpha, optimizer=map_optimizer(prior), n_restarts_optimizer=restarts, random_state=seed
        )
        gp.fit(X, (y - y_mean) / y_std)
        return cls(gp, y_mean, y_std)

    def condition(self, X: np.ndarray, y: np.ndarray) -> "Surrogate":
        """The same kernel and standardisation conditioned on other data (e.g. with fantasies).

        The first rows of `X` keep the known noise of the rows this model was fitted to; rows
        beyond them (fantasies) have none.
        """
        alpha = np.full(len(X), 1e-10)
        kept = min(len(X), len(self.alpha))
        alpha[:kept] = self.alpha[:kept]
        gp = GaussianProcessRegressor(kernel=self.gp.kernel_, alpha=alpha, optimizer=None)
        gp.fit(X, (y - self.y_mean) / self.y_std)
        return Surrogate(gp, self.y_mean, self.y_std)

    def with_believed(self, F: np.ndarray) -> "Surrogate":
        """This model also conditioned on rows F (k, D) observed at its own mean (kriging believer)."""
        mean, _ = self.predict(F)
        X = np.vstack([self.gp.X_train_, F])  # (n + k, D)
        return self.condition(X, np.concatenate([self.y_mean + self.y_std * self.gp.y_train_, mean]))

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation at `X` (the fitted white noise included), in the units of y."""
        mean, std = self.gp.predict(X, return_std=True)
        return self.y_mean + self.y_std * mean, self.y_std * std
