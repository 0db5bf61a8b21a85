"""The splits a trainer reads: a ``datasets.Dataset``, a ``DatasetDict`` or the path of one saved with
``save_to_disk`` (as ``backtrack.data.build_dataset`` writes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datasets

__all__ = ["load_splits"]


def load_splits(dataset: Any) -> tuple[datasets.Dataset, datasets.Dataset | None]:
    """``(train, test)`` from a ``Dataset`` (no test), a ``DatasetDict`` or the path of a saved one."""
    import datasets

    if isinstance(dataset, str | os.PathLike):
        path = Path(dataset).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"no dataset at {str(path)!r}")
        dataset = datasets.load_from_disk(str(path))
    if isinstance(dataset, datasets.DatasetDict):
        if "train" not in dataset:
            raise ValueError(f"the dataset has no 'train' split (splits: {', '.join(dataset)})")
        return dataset["train"], dataset.get("test")
    if isinstance(dataset, datasets.Dataset):
        return dataset, None
    raise TypeError(f"expected a datasets.Dataset, DatasetDict or a path, got {type(dataset).__name__}")
