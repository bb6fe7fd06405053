"""decp-pipeline: consolidates the French public procurement open data (DECP)."""

__version__ = "0.7.0"
