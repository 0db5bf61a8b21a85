"""A library of 1D ARC transformation rules, each a function from an input row to an output row.

The rules are written from the descriptions of the 1D-ARC task families (the ones reasoning-gym's
``arc_1d`` generator draws from), as functions of the input alone: the solver keeps the rules that map
every example input to its output and applies them to the test input. A rule returns None when the
input does not have the structure it needs (no dot, more than one block, no room to move).

Grids are tuples of colours 0..9, 0 for an empty cell. Rules are stated for one direction and the
mirrored rule (reverse, apply, reverse) is generated where the families have both directions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Grid = tuple[int, ...]
RuleFn = Callable[[Grid], Grid | None]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  # a natural-language statement of the rule, unique in RULES
    apply: RuleFn


def runs(grid: Grid) -> list[tuple[int, int, int]]:
    """Maximal runs of one non-zero colour: (start, length, colour)."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(grid):
        if grid[i]:
            j = i
            while j + 1 < len(grid) and grid[j + 1] == grid[i]:
                j += 1
            out.append((i, j - i + 1, grid[i]))
            i = j + 1
        else:
            i += 1
    return out


def segments(grid: Grid) -> list[tuple[int, int]]:
    """Maximal runs of non-zero cells of any colours: (start, length)."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(grid):
        if grid[i]:
            j = i
            while j + 1 < len(grid) and grid[j + 1]:
                j += 1
            out.append((i, j - i + 1))
            i = j + 1
        else:
            i += 1
    return out


def _paint(size: int, cells: dict[int, int]) -> Grid:
    return tuple(cells.get(i, 0) for i in range(size))


# ---- moves ----------------------------------------------------------------------------------
def shift(n: int) -> RuleFn:
    def rule(g: Grid) -> Grid | None:
        if not any(g) or any(g[len(g) - n :]):
            return None
        return (0,) * n + g[: len(g) - n]

    return rule


def rotate(n: int) -> RuleFn:
    def rule(g: Grid) -> Grid | None:
        k = n % len(g)
        return g[len(g) - k :] + g[: len(g) - k] if any(g) else None

    return rule


def move_by_own_size(g: Grid) -> Grid | None:
    r = runs(g)
    if len(r) != 1 or r[0][0] + 2 * r[0][1] > len(g):
        return None
    start, length, color = r[0]
    return _paint(len(g), {i: color for i in range(start + length, start + 2 * length)})


# ---- gravity --------------------------------------------------------------------------------
def gravity(g: Grid) -> Grid | None:
    cells = [x for x in g if x]
    return tuple(cells) + (0,) * (len(g) - len(cells))


def gravity_counting(g: Grid) -> Grid | None:
    n = sum(1 for x in g if x)
    return (1,) * n + (0,) * (len(g) - n)


def _only_ones_and_twos(g: Grid) -> bool:
    return all(x in (0, 1, 2) for x in g)


def antigravity(g: Grid) -> Grid | None:
    if not _only_ones_and_twos(g):
        return None
    ones, twos = g.count(1), g.count(2)
    return (2,) * twos + (0,) * (len(g) - ones - twos) + (1,) * ones


def weighted_gravity(g: Grid) -> Grid | None:
    if not _only_ones_and_twos(g):
        return None
    ones, twos = g.count(1), g.count(2)
    return (2,) * twos + (1,) * ones + (0,) * (len(g) - ones - twos)


def gravity_one_step(g: Grid) -> Grid | None:
    out = list(g)
    for i in range(1, len(out)):  # left to right, so a run of cells moves together
        if out[i] and not out[i - 1]:
            out[i - 1], out[i] = out[i], 0
    return tuple(out)


# ---- a block and a dot ----------------------------------------------------------------------
def _block_and_dot(g: Grid, dot_color: int) -> tuple[int, int, int, int] | None:
    """(dot position, block start, block length, block colour) for one dot and one other-coloured block."""
    r = runs(g)
    dots = [x for x in r if x[2] == dot_color and x[1] == 1]
    blocks = [x for x in r if x[2] != dot_color]
    if len(r) != 2 or len(dots) != 1 or len(blocks) != 1:
        return None
    return dots[0][0], *blocks[0]


def block_touch_dot(dot_color: int, max_move: int | None) -> RuleFn:
    def rule(g: Grid) -> Grid | None:
        found = _block_and_dot(g, dot_color)
        if found is None:
            return None
        dot, start, length, color = found
        if start < dot:
            gap = dot - (start + length)
            new = start + (gap if max_move is None else min(gap, max_move))
        else:
            gap = start - (dot + 1)
            new = start - (gap if max_move is None else min(gap, max_move))
        cells = {i: color for i in range(new, new + length)}
        cells[dot] = dot_color
        return _paint(len(g), cells)

    return rule


def block_scale_to_dot(g: Grid) -> Grid | None:
    found = _block_and_dot(g, 2)
    if found is None:
        return None
    dot, start, length, color = found
    lo, hi = (start, dot) if start < dot else (dot, start + length - 1)
    return _paint(len(g), {i: color for i in range(lo, hi + 1)})


def reflect_around_dot(g: Grid) -> Grid | None:
    found = _block_and_dot(g, 2)
    if found is None:
        return None
    dot, start, length, color = found
    cells = {2 * dot - i: color for i in range(start, start + length)}
    if min(cells) < 0 or max(cells) >= len(g):
        return None
    cells[dot] = 2
    return _paint(len(g), cells)


# ---- fills ----------------------------------------------------------------------------------
def two_points_fill(g: Grid) -> Grid | None:
    r = runs(g)
    if len(r) == 1 and r[0][1] == 2:  # two neighbouring points: nothing between them
        return g
    if len(r) != 2 or r[0][1] != 1 or r[1][1] != 1 or r[0][2] != r[1][2]:
        return None
    return _paint(len(g), {i: r[0][2] for i in range(r[0][0], r[1][0] + 1)})


def segment_to_endpoints(g: Grid) -> Grid | None:
    r = runs(g)
    if len(r) != 1 or r[0][1] < 2:
        return None
    start, length, color = r[0]
    return _paint(len(g), {start: color, start + length - 1: color})


def fill_from_pixel(g: Grid) -> Grid | None:
    s = segments(g)
    if len(s) != 1 or s[0][1] < 3:
        return None
    start, length = s[0]
    end = start + length - 1
    first, last, inner = g[start], g[end], set(g[start + 1 : end])
    out = list(g)
    if len(inner) == 1 and first not in inner and last in inner:
        out[:start] = [first] * start
    elif len(inner) == 1 and last not in inner and first in inner:
        out[end + 1 :] = [last] * (len(g) - end - 1)
    else:
        return None
    return tuple(out)


def fill_until_collision(g: Grid) -> Grid | None:
    n = len(g)
    if (g[0] == 5) == (g[-1] == 5) or g.count(5) != 1:
        return None
    out = list(g)
    pixels = [i for i in range(n) if g[i] and g[i] != 5]
    if not pixels:
        return None
    if g[0] == 5:
        prev = 0
        for p in pixels:
            out[prev + 1 : p] = [g[p]] * (p - prev - 1)
            prev = p
    else:
        prev = n - 1
        for p in reversed(pixels):
            out[p + 1 : prev] = [g[p]] * (prev - p - 1)
            prev = p
    return tuple(out)


def repeat_pattern(g: Grid) -> Grid | None:
    s = segments(g)
    if len(s) != 1 or s[0][0] != 0 or s[0][1] % 2 or s[0][1] < 4:
        return None
    p = s[0][1] // 2
    if g[:p] != g[p : 2 * p]:
        return None
    return tuple(g[i % p] for i in range(len(g)))


def copy_block_to_dots(g: Grid) -> Grid | None:
    r = runs(g)
    if len(r) < 2 or r[0][0] != 0 or r[0][1] not in (3, 5) or any(x[1] != 1 for x in r[1:]):
        return None
    half = r[0][1] // 2
    cells = {i: r[0][2] for i in range(r[0][1])}
    for pos, _, color in r[1:]:
        if pos - half < 0 or pos + half >= len(g):
            return None
        cells.update({i: color for i in range(pos - half, pos + half + 1)})
    return _paint(len(g), cells)


def duplicate_from_seeds(g: Grid) -> Grid | None:
    """A block of 1s with seed pixels two cells away repeats (gap 1) from each seed to the border."""
    blocks = [x for x in runs(g) if x[1] >= 2]
    if len(blocks) != 1 or blocks[0][2] != 1:
        return None
    start, length, _ = blocks[0]
    n = len(g)
    left = start - 2 if start >= 2 and g[start - 2] else None
    right = start + length + 1 if start + length + 1 < n and g[start + length + 1] else None
    others = {i for i in range(n) if g[i]} - set(range(start, start + length)) - {left, right}
    if (left is None and right is None) or others:
        return None
    out = list(g)
    if left is not None:
        end = left
        while end >= 0:
            for i in range(max(0, end - length + 1), end + 1):
                out[i] = g[left]
            end -= length + 1
    if right is not None:
        begin = right
        while begin < n:
            for i in range(begin, min(n, begin + length)):
                out[i] = g[right]
            begin += length + 1
    return tuple(out)


# ---- recolouring ----------------------------------------------------------------------------
def change_to_five(g: Grid) -> Grid | None:
    return tuple(5 if x else 0 for x in g) if any(g) else None


def paint_biggest(g: Grid) -> Grid | None:
    r = runs(g)
    if len(r) < 2 or len({x[2] for x in r}) != 1:
        return None
    longest = max(x[1] for x in r)
    if sum(1 for x in r if x[1] == longest) != 1:
        return None
    start, length, _ = next(x for x in r if x[1] == longest)
    out = list(g)
    out[start : start + length] = [1] * length
    return tuple(out)


def recolor_by_size(g: Grid) -> Grid | None:
    r = runs(g)
    if len(r) != 2 or any(x[2] != 3 for x in r) or r[0][1] == r[1][1]:
        return None
    out = list(g)
    for start, length, _ in r:
        out[start : start + length] = [1 if length == max(r[0][1], r[1][1]) else 2] * length
    return tuple(out)


def recolor_from_palette(g: Grid) -> Grid | None:
    s = segments(g)
    if len(s) < 2 or s[0][0] != 0:
        return None
    palette = g[: s[0][1]]
    blocks = [x for x in runs(g) if x[0] > s[0][1]]
    if len(blocks) != len(palette) or any(x[2] != 5 for x in blocks):
        return None
    out = list(g)
    for (start, length, _), color in zip(blocks, palette, strict=False):
        out[start : start + length] = [color] * length
    return tuple(out)


def color_left_half(g: Grid) -> Grid | None:
    r = runs(g)
    if len(r) < 2 or any(x[2] != 2 for x in r):
        return None
    out = list(g)
    for start, length, _ in r:
        out[start : start + length // 2] = [8] * (length // 2)
    return tuple(out)


def mark_size_two(g: Grid) -> Grid | None:
    r = runs(g)
    if not any(x[1] == 2 for x in r) or any(x[2] == 3 for x in r):
        return None
    out = list(g)
    for start, length, _ in r:
        if length == 2:
            if start > 0:
                out[start - 1] = 3
            if start + 2 < len(g):
                out[start + 2] = 3
    return tuple(out)


# ---- blocks and noise -----------------------------------------------------------------------
def remove_noise(g: Grid) -> Grid | None:
    r = runs(g)
    if len(r) < 2 or len({x[2] for x in r}) != 1:
        return None
    longest = max(x[1] for x in r)
    if sum(1 for x in r if x[1] == longest) != 1:
        return None
    start, length, color = next(x for x in r if x[1] == longest)
    return _paint(len(g), {i: color for i in range(start, start + length)})


def remove_noise_inside(g: Grid) -> Grid | None:
    s = segments(g)
    if len(s) != 1:
        return None
    start, length = s[0]
    colors = g[start : start + length]
    majority = max(set(colors), key=colors.count)
    if colors.count(majority) * 2 <= length:
        return None
    return _paint(len(g), {i: majority for i in range(start, start + length)})


def reflect_block(g: Grid) -> Grid | None:
    s = segments(g)
    if len(s) != 1 or s[0][1] < 2:
        return None
    start, length = s[0]
    return g[:start] + g[start : start + length][::-1] + g[start + length :]


def sort_blocks(g: Grid) -> Grid | None:
    r = runs(g)
    if len(r) < 2 or len({x[2] for x in r}) != 1:
        return None
    cells: dict[int, int] = {}
    pos = 0
    for length in sorted(x[1] for x in r):
        cells.update({i: r[0][2] for i in range(pos, pos + length)})
        pos += length + 1
    return _paint(len(g), cells) if pos - 1 <= len(g) else None


# ---- the library ----------------------------------------------------------------------------
def mirrored(fn: RuleFn) -> RuleFn:
    def rule(g: Grid) -> Grid | None:
        out = fn(g[::-1])
        return None if out is None else out[::-1]

    return rule


def _both(right_name: str, left_name: str, fn: RuleFn) -> list[Rule]:
    return [Rule(right_name, fn), Rule(left_name, mirrored(fn))]


def _library() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for n in range(1, 5):
        cells = "cell" if n == 1 else "cells"
        rules += _both(
            f"every coloured cell moves {n} {cells} right",
            f"every coloured cell moves {n} {cells} left",
            shift(n),
        )
    for n in range(1, 5):
        cells = "cell" if n == 1 else "cells"
        rules += _both(
            f"every coloured cell moves {n} {cells} right, wrapping around the end",
            f"every coloured cell moves {n} {cells} left, wrapping around the end",
            rotate(n),
        )
    rules += _both(
        "the coloured cells slide to the left end, keeping their order",
        "the coloured cells slide to the right end, keeping their order",
        gravity,
    )
    rules += _both(
        "the coloured cells are counted and that many 1s fill the row from the left",
        "the coloured cells are counted and that many 1s fill the row from the right",
        gravity_counting,
    )
    rules += _both(
        "the 2s slide to the left end and the 1s to the right end",
        "the 2s slide to the right end and the 1s to the left end",
        antigravity,
    )
    rules += _both(
        "every coloured cell with an empty cell on its left moves one cell left",
        "every coloured cell with an empty cell on its right moves one cell right",
        gravity_one_step,
    )
    rules += _both(
        "the cells slide left, the 2s first and then the 1s",
        "the cells slide right, the 2s first and then the 1s",
        weighted_gravity,
    )
    rules += [
        Rule("the block moves until it touches the 1", block_touch_dot(1, None)),
        *(Rule(f"the block moves up to {n} cells towards the 2", block_touch_dot(2, n)) for n in range(1, 5)),
        Rule("the block stretches to cover the 2", block_scale_to_dot),
        Rule("the single cells of the block's colour are removed, the longest block stays", remove_noise),
        Rule("the off-colour cells inside the block take the block's colour", remove_noise_inside),
        Rule("the block moves right by its own length", move_by_own_size),
        Rule("the space between two cells of one colour is filled with that colour", two_points_fill),
        Rule("the block is emptied except for its two end cells", segment_to_endpoints),
        Rule(
            "the first block is copied, centred, onto every single cell, in that cell's colour",
            copy_block_to_dots,
        ),
        Rule("the pattern at the start repeats to the end of the row", repeat_pattern),
        Rule("the block is reversed in place", reflect_block),
        Rule("the block is mirrored to the other side of the 2", reflect_around_dot),
        Rule("the longest block becomes 1", paint_biggest),
        Rule("of the two blocks of 3s the longer becomes 1 and the shorter 2", recolor_by_size),
        Rule("every coloured cell becomes 5", change_to_five),
        Rule("the blocks of 5s take the colours of the palette at the start, in order", recolor_from_palette),
        Rule("the left half of every block of 2s becomes 8", color_left_half),
        Rule("the blocks are sorted by length, shortest first from the left, one cell apart", sort_blocks),
        Rule("each seed cell repeats the block of 1s from the seed to the border", duplicate_from_seeds),
        Rule("the cell colours fill the gaps towards the 5 at the border", fill_until_collision),
        Rule("the cell next to the block fills from there to the border", fill_from_pixel),
        Rule("every block of length 2 gets a 3 on each side", mark_size_two),
    ]
    return tuple(rules)


RULES: tuple[Rule, ...] = _library()
RULE_BY_NAME = {rule.name: rule for rule in RULES}
assert len(RULE_BY_NAME) == len(RULES), "rule names must be unique"
