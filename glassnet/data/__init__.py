"""Data: real data sets offline, text corpora for language models, splits and
cross-validation, preprocessing fitted on training data only, augmentation and data checks."""
from . import augment, checks, datasets, preprocessing, splits, text
from .augment import Compose, GaussianNoise, HorizontalFlip, RandomRotation, RandomShift
from .checks import check_data
from .datasets import (Dataset, load_cifar10, load_digits, load_fashion_mnist, load_mnist, load_mnist1d, make_circles,
                       make_moons, make_polynomial, make_spiral)
from .preprocessing import (PCA, MeanCenter, MinMaxScale, Pipeline, RunningStandardize, Standardize, Whiten,
                            build_transformer)
from .splits import KFold, StratifiedKFold, cross_validate, leakage_report, train_val_test_split
from .text import CharVocab, TextCorpus, load_text, text_batches, text_windows

__all__ = ["augment", "checks", "datasets", "preprocessing", "splits", "text", "load_text", "CharVocab",
           "TextCorpus", "text_batches", "text_windows", "check_data", "Compose", "GaussianNoise",
           "HorizontalFlip", "RandomRotation", "RandomShift", "Dataset", "load_mnist1d", "load_digits", "load_mnist",
           "load_fashion_mnist", "load_cifar10", "make_spiral", "make_moons", "make_circles", "make_polynomial",
           "MeanCenter", "Standardize", "MinMaxScale", "PCA", "Whiten", "RunningStandardize", "Pipeline",
           "build_transformer", "train_val_test_split", "KFold", "StratifiedKFold", "cross_validate",
           "leakage_report"]
