"""Video data: the synthetic motion dataset, folders of real videos, and clip transforms."""

from nas.data.clips import ClipDataset, collate_clips
from nas.data.synthetic import SyntheticConfig, SyntheticSplits, make_synthetic, time_reversed_pairs

__all__ = ["ClipDataset", "SyntheticConfig", "SyntheticSplits", "collate_clips", "make_synthetic", "time_reversed_pairs"]
