"""The colour cube rotation task (reasoning-gym's generator; our prompt, solver and verifier)."""

from backtrack.tasks.color_cube_rotation.task import ColorCubeConfig, ColorCubeRotation, CubeProblem

__all__ = ["ColorCubeConfig", "ColorCubeRotation", "CubeProblem"]
