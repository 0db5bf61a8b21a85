"""zebra_puzzles (reasoning-gym): logic grid puzzles; see ``task.py``."""

from backtrack.tasks.zebra_puzzles.problem import ZebraProblem
from backtrack.tasks.zebra_puzzles.task import ZebraConfig, ZebraPuzzles

__all__ = ["ZebraConfig", "ZebraProblem", "ZebraPuzzles"]
