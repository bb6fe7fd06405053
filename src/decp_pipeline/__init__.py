"""decp-pipeline: consolidates the French public procurement open data (DECP)."""

__version__ = "0.11.0"
