"""Offline question answering over a folder of news articles.

Importing the package loads no model: models are loaded on first use.
"""

__version__ = "0.1.0"
