"""The Pit: the infrastructure layer of an AI development environment, on Temporal."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("symphony-pit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
