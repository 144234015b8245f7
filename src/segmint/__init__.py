"""segmint: an open-source customer segmentation engine."""

__version__ = "0.1.0"

