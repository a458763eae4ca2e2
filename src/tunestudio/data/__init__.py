"""The data stage: read, validate, clean, split, describe and generate tuning datasets."""

from tunestudio.data.formats import DATASET_FORMATS, Dataset, load_dataset, save_dataset
from tunestudio.data.problems import Problem
from tunestudio.data.table import Table, read_table, write_table

__all__ = [
    "DATASET_FORMATS",
    "Dataset",
    "Problem",
    "Table",
    "load_dataset",
    "read_table",
    "save_dataset",
    "write_table",
]
