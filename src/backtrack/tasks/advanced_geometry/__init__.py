"""The advanced geometry task (reasoning-gym's triangles; our exact solver, prompt and verifier)."""

from backtrack.tasks.advanced_geometry.task import AdvancedGeometry, GeometryConfig, GeometryProblem

__all__ = ["AdvancedGeometry", "GeometryConfig", "GeometryProblem"]
