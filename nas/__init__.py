"""attention-nas: search, build and compare spatiotemporal attention cells for video models."""

__version__ = "0.1.0"
