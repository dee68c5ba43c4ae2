"""Video backbones with named insertion points.  Importing this package registers them all."""

from nas.backbones import tiny  # noqa: F401  (registers tiny, tiny2d)
from nas.backbones import i3d, i3d_r50, s3d  # noqa: F401  (registers i3d, i3d_r50, s3d)
from nas.backbones.base import BACKBONES, Backbone, ClassifierHead

__all__ = ["BACKBONES", "Backbone", "ClassifierHead"]
