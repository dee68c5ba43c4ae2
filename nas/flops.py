"""FLOPs and parameters of any model at any input size, counted from the aten ops it runs.

Convention (named in every output): a multiply-add counts as two FLOPs, as in the
AttentionNAS paper.  What is counted, per aten op (whatever module, op kind or layer issued it):

- conv:        convolutions, 2 * output elements * C_in / groups * kernel volume (bias ignored);
- matmul:      mm, addmm, bmm, baddbmm, addbmm, mv, addmv, dot (so matmul, einsum and
               linear, which decompose into them) and scaled dot-product attention: 2 * M * N * K;
- pool:        max/average pooling, one FLOP per window element of every output; adaptive
               pooling and `mean` (global average pooling), one FLOP per input element;
- interpolate: a weighted sum of the 2 / 4 / 8 / 16 nearest inputs (linear / bilinear /
               trilinear / bicubic) per output element, two FLOPs per input used; nearest
               neighbour costs nothing.

Elementwise work (activations, BatchNorm at inference, residual additions, softmax, gating
multiplications) and data movement are not counted, as in the paper and in fvcore; the ops
seen without a formula are listed in `FlopReport.uncounted`.

The model runs under a `FakeTensorMode`: tensors carry shapes but no data, so the paper's
250 x 256 x 256 input costs no memory and well under a second per model.  Ops that need real
values (data-dependent control flow) can be counted with ``real=True`` on a small input.
"""

from __future__ import annotations

import math
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry, sdpa_flop_count

from nas.errors import UserError

CONVENTION = "multiply-add = 2 FLOPs"
aten = torch.ops.aten

Formula = Callable[[Sequence[Any], dict[str, Any], Any], int]  # (args, kwargs, out) -> FLOPs


def _numel(shape: Sequence[int]) -> int:
    return math.prod(int(s) for s in shape)


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out


def _torch_formula(packet: Any) -> Formula:
    """PyTorch's own formula (torch.utils.flop_counter) for conv / matmul / attention ops."""
    formula = flop_registry[packet]
    return lambda args, kwargs, out: int(formula(*args, **kwargs, out_val=out))


def _window_pool(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> int:
    """Max/avg pooling: output elements times the kernel volume (args[1] is the kernel size)."""
    output = _first(out)
    spatial = output.dim() - 2 if output.dim() > 2 else 1
    kernel = args[1] if len(args) > 1 else kwargs["kernel_size"]
    kernel = list(kernel) * spatial if len(kernel) == 1 else list(kernel)
    return output.numel() * _numel(kernel)


def _input_elements(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> int:
    """One FLOP per input element (global and adaptive average pooling)."""
    return args[0].numel()


def _interpolation(taps: int) -> Formula:
    """A weighted sum of `taps` inputs per output element: 2 * taps FLOPs each."""
    return lambda args, kwargs, out: 2 * taps * _first(out).numel()


def _matrix_vector(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> int:
    """mv / addmv: an (M, N) matrix times an N vector, 2 * M * N (the matrix is the tensor of
    highest rank among the first three arguments)."""
    matrix = max((a for a in args[:3] if isinstance(a, torch.Tensor)), key=lambda a: a.dim())
    return 2 * matrix.numel()


def _dot(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> int:
    """dot / vdot of two N vectors: 2 * N."""
    return 2 * args[0].numel()


def _addbmm(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> int:
    """addbmm: sum over b of (M, K) @ (K, N), 2 * B * M * N * K."""
    batch1, batch2 = args[1], args[2]
    return 2 * batch1.numel() * batch2.shape[-1]


def _cpu_sdpa(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> int:
    """Scaled dot-product attention as CPU runs it: Q K^T and P V."""
    return int(sdpa_flop_count(args[0].shape, args[1].shape, args[2].shape))


def _formulas() -> dict[Any, tuple[str, Formula]]:
    """aten op packet -> (category, formula)."""
    table: dict[Any, tuple[str, Formula]] = {}
    # aten.convolution is what a dispatch mode sees for every conv (its backends run below it)
    for packet in (aten.convolution, aten._convolution):
        table[packet] = ("conv", _torch_formula(packet))
    for packet in (aten.mm, aten.addmm, aten.bmm, aten.baddbmm):
        table[packet] = ("matmul", _torch_formula(packet))
    table.update({aten.mv: ("matmul", _matrix_vector), aten.addmv: ("matmul", _matrix_vector)})
    table.update({aten.dot: ("matmul", _dot), aten.vdot: ("matmul", _dot), aten.addbmm: ("matmul", _addbmm)})
    for name in ("_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention"):
        if getattr(aten, name, None) in flop_registry:
            table[getattr(aten, name)] = ("matmul", _torch_formula(getattr(aten, name)))
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        table[aten._scaled_dot_product_flash_attention_for_cpu] = ("matmul", _cpu_sdpa)
    pools = ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices", "max_pool3d_with_indices",
             "avg_pool1d", "avg_pool2d", "avg_pool3d")  # fmt: skip
    for name in pools:
        table[getattr(aten, name)] = ("pool", _window_pool)
    for name in ("_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_max_pool2d", "adaptive_max_pool3d", "mean"):
        table[getattr(aten, name)] = ("pool", _input_elements)
    taps = {"upsample_linear1d": 2, "upsample_bilinear2d": 4, "upsample_trilinear3d": 8, "upsample_bicubic2d": 16,
            "_upsample_bilinear2d_aa": 4, "_upsample_bicubic2d_aa": 16,
            "upsample_nearest1d": 0, "upsample_nearest2d": 0, "upsample_nearest3d": 0}  # fmt: skip
    for name, count in taps.items():
        table[getattr(aten, name)] = ("interpolate", _interpolation(count))
    return table


FORMULAS = _formulas()
CATEGORIES = ("conv", "matmul", "pool", "interpolate")


@dataclass
class _Tally:
    """Running counts, filled by `_CountingMode`."""

    scope: list[str] = field(default_factory=list)
    by_module: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_category: dict[str, int] = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    by_operator: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    uncounted: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class _CountingMode(TorchDispatchMode):
    """Counts the FLOPs of every aten op; composite ops are decomposed first (as PyTorch's
    FlopCounterMode does), so einsum, matmul and linear arrive as bmm / mm."""

    def __init__(self, tally: _Tally) -> None:
        super().__init__()
        self.tally = tally

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        packet = func._overloadpacket
        if packet not in FORMULAS and func is not torch.ops.prim.device.default:
            with self:
                decomposed = func.decompose(*args, **kwargs)
            if decomposed is not NotImplemented:
                return decomposed
        out = func(*args, **kwargs)
        entry = FORMULAS.get(packet)
        if entry is None:
            if func.namespace != "prim":  # prim ops are metadata queries
                self.tally.uncounted[str(packet)] += 1
            return out
        category, formula = entry
        flops = formula(args, kwargs, out)
        where = self.tally.scope[-1] if self.tally.scope else "(outside any part)"
        self.tally.by_module[where] += flops
        self.tally.by_category[category] += flops
        self.tally.by_operator[str(packet)] += flops
        return out


@dataclass(frozen=True)
class FlopReport:
    """FLOPs (multiply-add = 2) and parameters of a model for one input shape."""

    input_shape: tuple[int, ...]
    flops: int
    params: int
    by_module: dict[str, int]  # top-level part (layer, "insert:<position>", head) -> FLOPs, in order
    params_by_module: dict[str, int]
    by_category: dict[str, int]  # conv, matmul, pool, interpolate -> FLOPs
    by_operator: dict[str, int]  # aten op -> FLOPs
    uncounted: dict[str, int]  # aten ops seen without a FLOP formula -> calls
    convention: str = CONVENTION

    @property
    def gflops(self) -> float:
        """FLOPs / 1e9."""
        return self.flops / 1e9

    @property
    def params_m(self) -> float:
        """Parameters / 1e6."""
        return self.params / 1e6

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (GFLOPs and parameters per part)."""
        return {
            "input_shape": list(self.input_shape),
            "gflops": round(self.gflops, 3),
            "flops": self.flops,
            "params": self.params,
            "params_m": round(self.params_m, 3),
            "convention": self.convention,
            "by_category_gflops": {k: round(v / 1e9, 3) for k, v in self.by_category.items()},
            "by_module_gflops": {k: round(v / 1e9, 3) for k, v in self.by_module.items()},
            "params_by_module": dict(self.params_by_module),
        }


def model_parts(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The top-level parts a report breaks FLOPs down by, in network order.

    A `Backbone`: each layer by name, each inserted block as ``insert:<position>`` right after
    its layer, then ``head``.  Any other module: its direct children.
    """
    from nas.backbones.base import Backbone

    if not isinstance(model, Backbone):
        return list(model.named_children())
    inserted = model.inserted()
    parts: list[tuple[str, nn.Module]] = []
    for name in model.layer_names:
        parts.append((name, model.layers[name.replace(".", "_")]))
        if name in inserted:
            parts.append((f"insert:{name}", inserted[name]))
    parts.append(("head", model.head))
    return parts


@contextmanager
def _scoped(parts: list[tuple[str, nn.Module]], tally: _Tally) -> Iterator[None]:
    """Track which part is running with forward hooks (removed on exit)."""

    def enter(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any) -> None:
            tally.scope.append(name)

        return hook

    def leave(module: nn.Module, args: Any, output: Any) -> None:
        tally.scope.pop()  # a forward hook must return None, or it replaces the output

    handles = []
    for name, module in parts:
        handles.append(module.register_forward_pre_hook(enter(name)))
        handles.append(module.register_forward_hook(leave))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _inference(model: nn.Module) -> Iterator[None]:
    """Evaluation mode and no autograd for the duration; every module's mode is restored."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes.items():
            module.training = training


def check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    """The input shape as a tuple of positive ints (a `UserError` otherwise)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 5 or any(s <= 0 for s in shape):
        raise UserError(f"input shape must be five positive sizes (N, C, T, H, W), got {list(input_shape)}")
    return shape


def count_flops(model: nn.Module, input_shape: Sequence[int], real: bool = False) -> FlopReport:
    """FLOPs and parameters of `model` on an input of `input_shape` (N, C, T, H, W).

    Runs one inference pass (eval mode, no autograd) on shape-only fake tensors, or on real
    zeros with ``real=True``; the model's train/eval modes are restored afterwards.
    """
    shape = check_shape(input_shape)
    parts = model_parts(model)
    tally = _Tally()
    with ExitStack() as stack:
        stack.enter_context(_inference(model))
        if not real:
            stack.enter_context(FakeTensorMode(allow_non_fake_inputs=True))
        reference = next(model.parameters(), torch.empty(0))  # the input follows the model's dtype and device
        x = torch.zeros(shape, dtype=reference.dtype, device=reference.device)
        stack.enter_context(_scoped(parts, tally))
        stack.enter_context(_CountingMode(tally))
        model(x)
    by_module = {name: tally.by_module.get(name, 0) for name, _ in parts}
    by_module.update({k: v for k, v in tally.by_module.items() if k not in by_module})
    return FlopReport(
        input_shape=shape,
        flops=sum(tally.by_category.values()),
        params=sum(p.numel() for p in model.parameters()),
        by_module=by_module,
        params_by_module={name: sum(p.numel() for p in module.parameters()) for name, module in parts},
        by_category=dict(tally.by_category),
        by_operator=dict(tally.by_operator),
        uncounted=dict(tally.uncounted),
    )
