"""Classic baselines from the notes."""
from .knn import KNearestNeighbors

__all__ = ["KNearestNeighbors"]
