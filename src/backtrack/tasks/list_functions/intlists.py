"""A bounded hand parser and the one writer for lists of integers (``[3, 1, 2]``).

Lists come from model text, so the parser never hands the text to ``json``/``ast``: it checks the
length, refuses nested brackets, and reads each item as at most ``MAX_DIGITS`` ASCII digits.
"""

from __future__ import annotations

from backtrack.tasks.final_answer import parse_small_int

MAX_ITEMS = 256  # list_functions inputs have at most 10 elements (a few more after a rule)
MAX_DIGITS = 12


def format_int_list(values: tuple[int, ...] | list[int]) -> str:
    """``[3, 1, 2]``: the notation of reasoning-gym's prompts and of our answers."""
    return "[" + ", ".join(str(v) for v in values) + "]"


def parse_int_list(text: str, *, brackets_optional: bool = True) -> tuple[int, ...] | str:
    """The integers of ``[a, b, c]`` (brackets optional unless told otherwise), or why the text is
    not such a list. Whitespace around items is allowed; nothing else is."""
    body = text.strip()
    if len(body) > MAX_ITEMS * (MAX_DIGITS + 3) + 2:
        return f"the list is {len(body)} characters long, over the limit"
    if not body:
        return "the answer is empty (an empty list is written [])"
    if body.startswith("[") and body.endswith("]") and len(body) >= 2:
        body = body[1:-1]
    elif not brackets_optional:
        return "a list must be written in square brackets, like [1, 2, 3]"
    if "[" in body or "]" in body:
        return "nested or unbalanced brackets: the answer must be one flat list of integers"
    if not body.strip():
        return ()
    items = body.split(",")
    if len(items) > MAX_ITEMS:
        return f"the list has {len(items)} items, over the {MAX_ITEMS} limit"
    values = []
    for k, item in enumerate(items, 1):
        value = parse_small_int(item.strip(), MAX_DIGITS)
        if value is None:
            return f"item {k} is not an integer of at most {MAX_DIGITS} digits: {item.strip()[:20]!r}"
        values.append(value)
    return tuple(values)
