"""Paper Digest: new research papers in, a short personal newsletter out."""

__version__ = "0.1.0"
