"""window_filter: the convolution it stands for, with the same gradients by another route."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nas.ops.window_filter import window_filter


def tensors(seed: int, batch: int, groups: int, per_group: int, window, size):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, groups, *size, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(groups * per_group, 1, *window, generator=g, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(batch, groups * per_group, *size, generator=g, dtype=torch.float64)
    return x, weight, upstream


@pytest.mark.parametrize(
    "batch, groups, per_group, window, size",
    [
        (2, 1, 4, (3, 3, 3), (4, 5, 6)),
        (3, 5, 2, (5, 7, 7), (8, 7, 7)),  # RSA's default window on I3D 4a's map
        (1, 3, 3, (3, 5, 1), (1, 2, 9)),  # window larger than the map, a single frame
        (2, 2, 1, (1, 1, 1), (3, 3, 3)),
    ],
)
def test_output_and_gradients_equal_the_convolution(batch, groups, per_group, window, size):
    x, weight, upstream = tensors(0, batch, groups, per_group, window, size)
    padding = tuple(k // 2 for k in window)
    expected = F.conv3d(x, weight, padding=padding, groups=groups)
    got = window_filter(x, weight, groups)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    grads = [torch.autograd.grad(y, [x, weight], upstream) for y in (got, expected)]
    for new, ref in zip(*grads):
        assert ref.abs().max() > 0
        torch.testing.assert_close(new, ref, rtol=1e-12, atol=1e-12)


def test_gradcheck_and_double_backward():
    x, weight, _ = tensors(1, 2, 2, 2, (3, 3, 3), (3, 4, 2))
    assert torch.autograd.gradcheck(lambda a, b: window_filter(a, b, 2), (x, weight))
    assert torch.autograd.gradgradcheck(lambda a, b: window_filter(a, b, 2), (x, weight))


def test_only_the_gradients_asked_for():
    x, weight, upstream = tensors(2, 2, 1, 3, (3, 3, 3), (3, 3, 3))
    (dx,) = torch.autograd.grad(window_filter(x, weight.detach()), [x], upstream)
    torch.testing.assert_close(dx, torch.autograd.grad(F.conv3d(x, weight.detach(), padding=1), [x], upstream)[0])


@pytest.mark.parametrize("x_shape, w_shape", [((1, 2, 3, 3, 3), (4, 1, 3, 3, 3)), ((1, 1, 3, 3, 3), (2, 1, 2, 3, 3)), ((1, 2, 3, 3, 3), (4, 2, 3, 3, 3))])
def test_rejects_what_it_does_not_stand_for(x_shape, w_shape):
    with pytest.raises(ValueError, match="one input channel per group and odd windows"):
        window_filter(torch.zeros(x_shape), torch.zeros(w_shape), groups=1)
