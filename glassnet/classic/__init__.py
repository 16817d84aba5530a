"""Classic baselines from the notes: k-nearest neighbours and linear classifiers."""
from .knn import KNN, KNearestNeighbors, choose_k
from .linear import LinearSoftmax, LinearSVM

__all__ = ["KNN", "KNearestNeighbors", "choose_k", "LinearSVM", "LinearSoftmax"]
