"""Serving helpers that sit beside the Backends: embeddings and text segmentation."""

from tunestudio.ops.embeddings import Embedder, HFEmbedder, load_embedder

__all__ = ["Embedder", "HFEmbedder", "load_embedder"]
