"""Attention operations.  Importing this package registers every built-in op kind in `OPS`."""

from nas.ops import attention  # noqa: F401  (registers dot_product, map)
from nas.ops import aligned, channel_shift, divided, non_local_op, patch_shift, relational  # noqa: F401  (seed operators)
from nas.ops.registry import OPS, Choice, FeatureShape, OpConfig, OpKind

__all__ = ["OPS", "Choice", "FeatureShape", "OpConfig", "OpKind"]
