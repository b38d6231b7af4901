"""The Enums a simulation study's options are chosen by, for the shells (Typer accepts them as
they are): the domain's own, with no mirror copies. A module of its own so that declaring a
command's options loads no database layer (``python -X importtime -c "import examengine.cli"``:
``services.simulation`` would add SQLAlchemy and SciPy, over a second, to every command)."""

from __future__ import annotations

from examengine.irt.estimation import EstimationMethod
from examengine.irt.params import IrtModel
from examengine.irt.selection import SelectionRule, StartRule

__all__ = ["EstimationMethod", "IrtModel", "SelectionRule", "StartRule"]
