"""rara: a self-iterating, closed-loop crypto trading research system."""

__version__ = "0.1.0"
