"""Video backbones with named insertion points.  Importing this package registers them all."""

from nas.backbones import tiny  # noqa: F401  (registers tiny, tiny2d)
from nas.backbones.base import BACKBONES, Backbone, ClassifierHead

__all__ = ["BACKBONES", "Backbone", "ClassifierHead"]
