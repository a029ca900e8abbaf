"""Artifact Store: content-addressed, versioned, searchable artifacts."""
