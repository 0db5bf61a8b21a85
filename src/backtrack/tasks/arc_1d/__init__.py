"""The 1D ARC task (reasoning-gym's generator; our rule-inference solver, prompt and verifier)."""

from backtrack.tasks.arc_1d.task import Arc1D, Arc1DConfig, Arc1DProblem

__all__ = ["Arc1D", "Arc1DConfig", "Arc1DProblem"]
