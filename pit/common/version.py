"""The installed version of the Pit."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("symphony-pit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
