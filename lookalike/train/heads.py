"""Embedding heads and the module that chains a frozen or trainable backbone with a head."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ProjectionHead(nn.Module):
    """Linear (or one hidden layer MLP) projection of backbone features to the embedding."""

    def __init__(self, in_dim: int, out_dim: int = 256, hidden: int = 0, dropout: float = 0.0):
        super().__init__()
        if hidden > 0:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden),
                                     nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))
        else:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, out_dim))
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ClassifierHead(nn.Module):
    """Embedding layer then a linear classifier; the embedding (penultimate layer) is what gets exported."""

    def __init__(self, in_dim: int, n_classes: int, emb_dim: int = 256, dropout: float = 0.2):
        super().__init__()
        self.embed = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, emb_dim), nn.BatchNorm1d(emb_dim))
        self.classify = nn.Sequential(nn.ReLU(), nn.Dropout(dropout), nn.Linear(emb_dim, n_classes))
        self.in_dim, self.out_dim = in_dim, emb_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores, used only for training."""
        return self.classify(self.embed(x))


class EmbeddingNet(nn.Module):
    """Backbone -> L2-normalised features -> head: what is exported to ONNX."""

    def __init__(self, backbone: nn.Module, head: nn.Module | None):
        super().__init__()
        self.backbone = backbone
        self.head = head if head is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.normalize(self.backbone(x), dim=1))
