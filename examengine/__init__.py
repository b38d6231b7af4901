"""examengine: adaptive exam and question-bank engine for 1+X vocational skill certificates."""

__version__ = "0.1.0"
