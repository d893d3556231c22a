"""Data: uint8 `[28, 28, 1]` digits from TFDS, prepared offline where needed."""

from tfmnistcodec.data.datasets import DatasetError
from tfmnistcodec.data.datasets import download_registry_wheel
from tfmnistcodec.data.datasets import IMAGE_SHAPE
from tfmnistcodec.data.datasets import load_images
from tfmnistcodec.data.datasets import load_numpy
from tfmnistcodec.data.datasets import OFFLINE_DATASETS
from tfmnistcodec.data.datasets import prepare
from tfmnistcodec.data.datasets import prepare_animal_mnist_from_registry
from tfmnistcodec.data.datasets import prepare_mnist_from_registry
from tfmnistcodec.data.datasets import read_animal_mnist
from tfmnistcodec.data.datasets import read_registry_pickle
from tfmnistcodec.data.datasets import split_by_class
from tfmnistcodec.data.datasets import write_dataset
from tfmnistcodec.data.datasets import write_mnist

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
