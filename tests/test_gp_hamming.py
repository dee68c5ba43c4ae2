"""The written-out Hamming GP against scikit-learn's, and the GP bandit's warm-started fits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor

from nas.controllers import make_controller, rebuild_controller
from nas.controllers.gp_hamming import HammingGP, HammingKernel, fit_theta, hamming_prior, neg_log_posterior
from nas.controllers.gp_model import build_kernel
from nas.objectives import TrialContext, make_objective
from nas.store import NewTrial, TrialStore


def random_codes(rng, n=40, groups=((0, 3), (3, 5), (5, 9), (9, 10))):
    """One-hot blocks per group (the last group a single 0/1 column), (n, 10)."""
    X = np.zeros((n, groups[-1][1]))
    for start, stop in groups:
        width = stop - start
        if width == 1:
            X[:, start] = rng.integers(0, 2, n)
        else:
            X[np.arange(n), start + rng.integers(0, width, n)] = 1.0
    return X, list(groups)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_posterior_and_gradient_equal_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    X, groups = random_codes(rng)
    y, known = rng.normal(size=len(X)), rng.uniform(0, 0.2, len(X))
    kernel, prior = build_kernel("hamming", groups, X.shape[1])
    reference = GaussianProcessRegressor(kernel, alpha=known + 1e-10, optimizer=None).fit(X, y)
    theta = kernel.theta + rng.normal(0, 0.7, len(kernel.theta))
    lml, lml_grad = reference.log_marginal_likelihood(theta, eval_gradient=True)
    log_prior, prior_grad = prior.log_density(theta)
    ours, grad = neg_log_posterior(theta, X, y, known, HammingKernel(groups, X.shape[1]), hamming_prior(groups))
    assert ours == pytest.approx(-lml - log_prior, rel=1e-10)
    np.testing.assert_allclose(grad, -lml_grad - prior_grad, rtol=1e-7, atol=1e-9)


def test_predictions_equal_scikit_learns_at_the_same_hyperparameters():
    rng = np.random.default_rng(5)
    X, groups = random_codes(rng, n=30)
    y = X @ rng.normal(size=X.shape[1]) + 3.0
    theta, _ = fit_theta(X, (y - y.mean()) / y.std(), np.zeros(len(y)), groups, [hamming_prior(groups).mean])
    kernel, _ = build_kernel("hamming", groups, X.shape[1])
    reference = GaussianProcessRegressor(kernel.clone_with_theta(theta), alpha=1e-10, optimizer=None)
    reference.fit(X, (y - y.mean()) / y.std())
    Z, _ = random_codes(np.random.default_rng(6), n=12)
    ref_mean, ref_std = reference.predict(Z, return_std=True)
    mean, std = HammingGP(X, y, groups, theta).predict(Z)
    np.testing.assert_allclose(mean, y.mean() + y.std() * ref_mean, rtol=1e-8)
    np.testing.assert_allclose(std, y.std() * ref_std, rtol=1e-6)


def test_the_map_fit_recovers_relevant_groups_and_a_believer_keeps_the_mean():
    rng = np.random.default_rng(7)
    X, groups = random_codes(rng, n=60)
    y = 2.0 * X[:, 0] - 1.5 * X[:, 3]  # only groups 0 and 1 matter
    theta, _ = fit_theta(X, (y - y.mean()) / y.std(), np.zeros(len(y)), groups, [hamming_prior(groups).mean])
    length = np.exp(theta[1:-1])
    assert max(length[0], length[1]) < min(length[2], length[3])
    model = HammingGP(X, y, groups, theta)
    Z, _ = random_codes(np.random.default_rng(8), n=5)
    believer = model.with_believed(Z[:2])
    np.testing.assert_allclose(believer.predict(Z)[0], model.predict(Z)[0], atol=1e-6)
    assert np.all(believer.predict(Z[:2])[1] < model.predict(Z[:2])[1])


def drive(ctrl, store, toy, asks):
    """`asks` asks of 2 with one proposal left pending each time, recorded in `store`."""
    pending = []
    for _ in range(asks):
        batch = ctrl.ask(2)
        store.add_batch([NewTrial(p.number, p.id, p.key, p.genotype.to_json(indent=None)) for p in batch], 0.0)
        pending += batch
        for p in pending[:-1]:
            value = toy.evaluate(p.genotype, TrialContext(0, p.id)).score
            store.finish(p.id, "complete", 0.0, value=value, score=value, metrics={})
            ctrl.tell(p.id, value)
        pending = pending[-1:]


@pytest.mark.parametrize("fit_subset", [256, 8])
def test_a_rebuilt_bandit_recomputes_the_warm_start_chain(gpb_space, tmp_path, fit_subset):
    """Eight model-based asks with a fresh search every third: the rebuilt one continues identically."""
    options = {"initial": 3, "pool": 24, "mutations": 8, "starts": 2, "anchors": 1, "steps": 2, "restarts": 1,
               "refit_every": 3, "fit_subset": fit_subset}
    store = TrialStore.create(tmp_path / "t.db")
    live = make_controller("gp_bandit", gpb_space, seed=1, **options)
    drive(live, store, make_objective("toy", {"seed": 2}), asks=9)
    assert len(live._fit_log) >= 7 and len(live._thetas) == len(live._fit_log)
    rebuilt = rebuild_controller("gp_bandit", gpb_space, store, seed=1, **options)
    assert rebuilt._fit_log == live._fit_log and not rebuilt._thetas  # nothing fitted during the replay
    assert [p.key for p in rebuilt.ask(3)] == [p.key for p in live.ask(3)]
    j = len(live._fit_log) - 1
    np.testing.assert_allclose(rebuilt._thetas[j][0], live._thetas[j][0])
    assert len(rebuilt._thetas) <= options["refit_every"]  # back to the last fresh search only


def test_a_told_standard_error_widens_the_written_out_gp_there():
    rng = np.random.default_rng(0)
    X, groups = random_codes(rng, n=16)
    y = X @ rng.normal(size=X.shape[1])
    theta = hamming_prior(groups).mean
    exact = HammingGP(X, y, groups, theta)
    noisy = HammingGP(X, y, groups, theta, known=np.full(len(y), (0.5 * y.std()) ** 2))
    assert noisy.predict(X[:3])[1].min() > exact.predict(X[:3])[1].max()
    assert np.allclose(noisy.with_believed(X[:1]).known[:-1], noisy.known) and noisy.with_believed(X[:1]).known[-1] == 0
