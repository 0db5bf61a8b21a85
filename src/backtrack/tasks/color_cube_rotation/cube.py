"""Cube states and rotations, with the rotation semantics stated in the prompt.

A state maps each of the six sides to a colour. "Bring side X to the top" is the quarter turn that
tips X up to the top (about the left-right axis for front/back, the front-back axis for left/right);
"bring the bottom to the top" is the half turn about the left-right axis, so front and back swap and
left and right stay. reasoning-gym uses the same moves, but its question text does not say which axis
the half turn uses, which makes some of its labels ambiguous (see docs/tasks.md).
"""

from __future__ import annotations

SIDES = ("top", "right", "front", "left", "back", "bottom")
COLORS = (
    "red", "green", "blue", "yellow", "white", "orange", "purple", "pink",
    "brown", "gray", "cyan", "magenta", "gold", "silver", "indigo", "violet",
)  # fmt: skip
ROTATIONS = ("right", "front", "left", "back", "bottom")  # sides that can be brought to the top

# side -> (new side <- old side) for each rotation: after the move, new[k] = old[v].
_MOVES: dict[str, dict[str, str]] = {
    "front": {"top": "front", "front": "bottom", "bottom": "back", "back": "top"},
    "back": {"top": "back", "back": "bottom", "bottom": "front", "front": "top"},
    "right": {"top": "right", "right": "bottom", "bottom": "left", "left": "top"},
    "left": {"top": "left", "left": "bottom", "bottom": "right", "right": "top"},
    "bottom": {"top": "bottom", "bottom": "top", "front": "back", "back": "front"},
}
# The other reading of the half turn (about the front-back axis), used only to measure ambiguity.
BOTTOM_ABOUT_FRONT_BACK = {"top": "bottom", "bottom": "top", "left": "right", "right": "left"}

State = tuple[tuple[str, str], ...]  # ((side, colour), ...) in SIDES order


def rotate(state: dict[str, str], side: str, *, half_turn: dict[str, str] | None = None) -> dict[str, str]:
    """The state after bringing ``side`` to the top (``half_turn`` overrides the bottom move)."""
    move = half_turn if side == "bottom" and half_turn is not None else _MOVES[side]
    return {k: state[move.get(k, k)] for k in SIDES}


def describe(state: dict[str, str]) -> str:
    return ", ".join(f"{side} {state[side]}" for side in SIDES)
