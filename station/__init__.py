"""Station controller for nucleic-acid testing collection points."""

__version__ = "0.1.0"
