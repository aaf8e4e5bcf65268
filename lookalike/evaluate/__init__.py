"""Retrieval evaluation: metrics, protocols (query/gallery/relevance), bootstrap intervals and reports."""

from .metrics import knn_recall, score_queries

__all__ = ["knn_recall", "score_queries"]
