"""Video data: the synthetic datasets (relational and motion tasks), folders of real videos, and clip transforms."""

from nas.data.clips import ClipDataset, collate_clips
from nas.data.sources import DataSplits, open_data
from nas.data.synthetic import SyntheticConfig, SyntheticSplits, make_synthetic, time_reversed_pairs
from nas.data.video_folder import ClipSampling, VideoFolder

__all__ = [
    "ClipDataset",
    "ClipSampling",
    "DataSplits",
    "SyntheticConfig",
    "SyntheticSplits",
    "VideoFolder",
    "collate_clips",
    "make_synthetic",
    "open_data",
    "time_reversed_pairs",
]
