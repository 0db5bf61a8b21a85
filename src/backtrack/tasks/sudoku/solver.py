"""Exact Sudoku solving and puzzle generation: a fewest-candidates-first DFS on bitmasks that counts
solutions, random full grids, and digging a grid down to a unique-solution puzzle."""

from __future__ import annotations

import random

from backtrack.tasks.sudoku.board import (
    GEOMETRY_9X9,
    Geometry,
    _unit_masks,
    geometry_of,
    grid_to_str,
    grid_values,
    parse_grid,
)


def _search(
    values: list[int],
    limit: int,
    *,
    forbid_cell: int = -1,
    forbid_digit: int = 0,
    rng: random.Random | None = None,
    first: list[int] | None = None,
) -> int:
    """Count solutions of ``values`` up to ``limit`` (fewest-candidates-first DFS on bitmasks).

    ``forbid_cell``/``forbid_digit`` remove one candidate (used to ask "is there a solution other
    than the known one?"), ``rng`` shuffles candidate order (random full grids), and ``first``
    receives the first solution found.
    """
    masks = _unit_masks(values)
    if masks is None:
        return 0
    geo = geometry_of(values)
    all_digits, popcount, bits_of, digit_of_bit = geo.all_digits, geo.popcount, geo.bits_of, geo.digit_of_bit
    row_of, col_of, box_of = geo.row_of, geo.col_of, geo.box_of
    rows, cols, boxes = masks
    cells = list(values)
    empties = [i for i in range(geo.n_cells) if not cells[i]]
    n = len(empties)
    forbid_bit = geo.bit[forbid_digit] if 0 < forbid_digit <= geo.n else 0
    count = 0

    def descend(k: int) -> bool:  # True: stop, enough solutions
        nonlocal count
        if k == n:
            count += 1
            if first is not None and not first:
                first.extend(cells)
            return count >= limit
        best, best_mask, best_n = k, 0, geo.n + 1
        for j in range(k, n):
            i = empties[j]
            m = ~(rows[row_of[i]] | cols[col_of[i]] | boxes[box_of[i]]) & all_digits
            if i == forbid_cell:
                m &= ~forbid_bit
            c = popcount[m]
            if c < best_n:
                best, best_mask, best_n = j, m, c
                if c <= 1:
                    break
        if best_n == 0:
            return False
        empties[k], empties[best] = empties[best], empties[k]
        i = empties[k]
        r, c, x = row_of[i], col_of[i], box_of[i]
        bits: tuple[int, ...] | list[int] = bits_of[best_mask]
        if rng is not None and best_n > 1:
            bits = list(bits)
            rng.shuffle(bits)
        for b in bits:
            rows[r] |= b
            cols[c] |= b
            boxes[x] |= b
            cells[i] = digit_of_bit[b]
            if descend(k + 1):
                return True
            rows[r] ^= b
            cols[c] ^= b
            boxes[x] ^= b
        cells[i] = 0
        return False

    descend(0)
    return count


def _grid(puzzle: str) -> list[int]:
    """Cell values of a puzzle given as text of any supported size (its length names the size)."""
    cells = "".join(puzzle.split()) if isinstance(puzzle, str) else puzzle
    return grid_values(parse_grid(puzzle, geometry_of(cells)))


def count_solutions(puzzle: str, limit: int = 2) -> int:
    """Number of solutions of ``puzzle``, counting stops at ``limit`` (2 answers "is it unique?")."""
    return _search(_grid(puzzle), max(1, limit))


def solve_grid(puzzle: str) -> str | None:
    """The first solution of ``puzzle`` in search order, or None when it has none."""
    first: list[int] = []
    _search(_grid(puzzle), 1, first=first)
    return grid_to_str(first) if first else None


def random_solution(rng: random.Random, geo: Geometry = GEOMETRY_9X9) -> list[int]:
    """A random complete valid grid: a DFS fill of the empty grid with candidates in shuffled order."""
    first: list[int] = []
    _search([0] * geo.n_cells, 1, rng=rng, first=first)
    return first


def _peer_mask(geo: Geometry, values: list[int], i: int) -> int:
    m = 0
    bit = geo.bit
    for j in geo.peers[i]:
        m |= bit[values[j]]
    return m


def _hidden_single_at(geo: Geometry, values: list[int], i: int, v: int) -> bool:
    """Whether some unit of blank ``i`` has no other blank where ``v`` could go."""
    b = geo.bit[v]

    def blocked(j: int) -> bool:
        return j == i or bool(values[j]) or bool(_peer_mask(geo, values, j) & b)

    return any(all(blocked(j) for j in geo.units[u]) for u in geo.units_of[i])


def dig_puzzle(solution: list[int], target: int, rng: random.Random) -> list[int]:
    """Blank cells of ``solution`` in random order while the solution stays unique, down to ``target``.

    Returns the puzzle; it has ``target`` givens, or more when every remaining given is needed.
    """
    geo = geometry_of(solution)
    values = list(solution)
    order = list(range(geo.n_cells))
    rng.shuffle(order)
    givens = geo.n_cells
    for i in order:
        if givens <= target:
            break
        v = values[i]
        values[i] = 0
        # Cheap common cases: the remaining givens force v back into i as a naked or hidden single.
        if geo.popcount[~_peer_mask(geo, values, i) & geo.all_digits] == 1 or _hidden_single_at(
            geo, values, i, v
        ):
            givens -= 1
            continue
        # The puzzle had one solution; a second one after blanking i must differ from it at i.
        if _search(values, 1, forbid_cell=i, forbid_digit=v):
            values[i] = v
        else:
            givens -= 1
    return values
