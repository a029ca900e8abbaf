"""Artifact Store: content-addressed, versioned, searchable artifacts."""

from pit.artifacts.blob_port import BlobInfo, BlobSource, BlobStore
from pit.artifacts.manifest import ChunkRef, Manifest
from pit.artifacts.results import PutResult, ReindexReport, StoreStats, VerifyReport
from pit.artifacts.store import ArtifactData, ArtifactReader, ArtifactStore

__all__ = [
    "ArtifactData",
    "ArtifactReader",
    "ArtifactStore",
    "BlobInfo",
    "BlobSource",
    "BlobStore",
    "ChunkRef",
    "Manifest",
    "PutResult",
    "ReindexReport",
    "StoreStats",
    "VerifyReport",
]
