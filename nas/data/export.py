"""Write the synthetic dataset to disk as real video files plus CSV annotations.

Layout of the folder (what `nas.data.video_folder.VideoFolder` reads)::

    DIR/classes.txt                 one class name a line, in label order
    DIR/{train,val,test}.csv        header "path,label"; label is the class name
    DIR/search_{train,val}.csv      the search splits: rows of train.csv (no copies of videos)
    DIR/videos/{split}/NNNNNN.mp4   H.264 videos
    DIR/dataset.json                the dataset's settings (written first; see `claim_folder`)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Callable

import numpy as np

from nas.data.synthetic import SyntheticConfig, make_synthetic
from nas.data.video_io import write_video
from nas.errors import UserError
from nas.io import atomic_write_json, atomic_write_text, load_json


DATASET_SCHEMA = "attention-nas/synthetic-export@1"


def claim_folder(out: Path, record: dict) -> None:
    """Refuse a folder that holds anything but an export of this very dataset; mark it as this one's.

    OUT/dataset.json names the dataset a folder holds, written before any video, so an
    interrupted export of the same dataset can be rerun into it and another one cannot mix in.
    """
    marker = out / "dataset.json"
    if out.is_dir() and any(out.iterdir()):
        if not marker.is_file():
            raise UserError(f"{out} is not empty and holds no synthetic export; write into an empty or new folder")
        if load_json(marker, "dataset record") != json.loads(json.dumps(record)):  # as JSON keeps it
            raise UserError(f"{out} holds another synthetic dataset (see {marker}); write into an empty or new folder")
        return
    atomic_write_json(marker, record)


def export_synthetic(
    config: SyntheticConfig, out: str | Path, fps: int = 8, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Write every split of the synthetic dataset `config` under `out`; return videos per split.

    Videos are written before the annotation files, each atomically, so an interrupted export
    leaves no CSV naming a video that is not there.
    """
    if config.size % 2:
        raise UserError(f"synthetic videos need an even frame size for H.264 (got {config.size})")
    out = Path(out)
    claim_folder(out, {"schema": DATASET_SCHEMA, "config": dataclasses.asdict(config), "fps": fps})
    data = make_synthetic(config)
    rows: dict[str, list[tuple[str, str]]] = {}
    total = sum(len(data[split]) for split in ("train", "val", "test"))
    written = 0
    for split in ("train", "val", "test"):
        dataset, rows[split] = data[split], []
        for index in range(len(dataset)):
            relative = f"videos/{split}/{index:06d}.mp4"
            frames = dataset.clips[index].permute(1, 2, 3, 0).numpy()  # (T, H, W, 3)
            write_video(out / relative, np.ascontiguousarray(frames), fps=fps)
            rows[split].append((relative, data.classes[int(dataset.labels[index])]))
            written += 1
            if progress is not None:
                progress(written, total)
    carve = len(data["search_train"])
    rows["search_train"], rows["search_val"] = rows["train"][:carve], rows["train"][carve:]
    atomic_write_text(out / "classes.txt", "".join(name + "\n" for name in data.classes))
    for split, split_rows in rows.items():
        atomic_write_text(out / f"{split}.csv", _csv([("path", "label"), *split_rows]))
    return {split: len(split_rows) for split, split_rows in rows.items()}


def _csv(rows: list[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
