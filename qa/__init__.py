"""Policy Q&A: find the curated answer to a resident's question and the policies behind it."""

__version__ = "0.1.0"
