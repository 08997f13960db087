"""Kaldi data directories and trial lists."""

from seedkit.data.datadir import (
    DataDir,
    fix_data_dir,
    load_data_dir,
    read_utt2x,
    rename_data_dir,
    subset_by_speakers,
    subset_data_dir,
    validate_data_dir,
    write_data_dir,
)
from seedkit.data.split import split_data_dir, write_split
from seedkit.data.trials import Trial, read_trials, write_trials

__all__ = [
    "DataDir",
    "Trial",
    "fix_data_dir",
    "load_data_dir",
    "read_trials",
    "read_utt2x",
    "rename_data_dir",
    "split_data_dir",
    "subset_by_speakers",
    "subset_data_dir",
    "validate_data_dir",
    "write_data_dir",
    "write_split",
    "write_trials",
]
