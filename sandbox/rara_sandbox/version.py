"""Version numbers, in a module of their own so submodules never import the package root."""

from __future__ import annotations

__version__ = "0.1.0"
API_VERSION = 1  # the Strategy API version meta() must declare
