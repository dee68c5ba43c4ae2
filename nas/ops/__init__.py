"""Attention operations.  Importing this package declares every built-in op kind in `OPS`
(`nas.ops.catalog`, no torch needed); an op's module is imported when the op is first built."""

from nas.ops import catalog  # noqa: F401  (declares the built-in kinds)
from nas.ops.registry import OPS, Choice, FeatureShape, OpConfig, OpKind

__all__ = ["OPS", "Choice", "FeatureShape", "OpConfig", "OpKind"]
