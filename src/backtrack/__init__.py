"""backtrack-lab: study and train search in language-model reasoning."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("backtrack-lab")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+local"
