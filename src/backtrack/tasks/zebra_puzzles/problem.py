"""The zebra puzzle as data: attributes (name, pet, drink...), clues relating their values, and the
house whose resident's name is asked for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_HOUSES = 7
MAX_ATTRIBUTES = 7
MAX_CLUES = 200
MAX_WORD_CHARS = 80
NAME = "Name"  # the attribute the question asks about

# Clue kinds: "first" and "second" are values; found_at/not_at take a house instead of a second value.
UNARY_KINDS = ("found_at", "not_at")
BINARY_KINDS = ("same_house", "consecutive", "beside", "left_of", "right_of", "one_between", "two_between")
SYMMETRIC_KINDS = frozenset({"same_house", "beside", "one_between", "two_between"})
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh")

Ref = tuple[int, int]  # (attribute index, value index)


@dataclass(frozen=True, slots=True)
class Attribute:
    """One characteristic: every house has a different one of its ``values``.

    ``phrases`` name the person with each value in clues ("the coffee drinker" for ``coffee``).
    """

    key: str
    intro: str
    values: tuple[str, ...]
    phrases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Clue:
    kind: str
    first: Ref
    second: Ref | None = None
    house: int | None = None  # 1-based, for found_at / not_at


@dataclass(frozen=True, slots=True)
class ZebraProblem:
    n_houses: int
    attributes: tuple[Attribute, ...]
    clues: tuple[Clue, ...]
    house: int  # 1-based: the question asks who lives here

    def name_attribute(self) -> int:
        return next(i for i, a in enumerate(self.attributes) if a.key == NAME)

    def ref_text(self, ref: Ref) -> list[str]:
        attribute = self.attributes[ref[0]]
        return [attribute.key, attribute.values[ref[1]]]

    def phrase(self, ref: Ref) -> str:
        return self.attributes[ref[0]].phrases[ref[1]]

    def clue_text(self, clue: Clue) -> str:
        """The clue as an English sentence (reasoning-gym's wording)."""
        a = self.phrase(clue.first)
        b = self.phrase(clue.second) if clue.second is not None else ""
        sentences = {
            "found_at": lambda: f"{a} is in the {ORDINALS[(clue.house or 1) - 1]} house.",
            "not_at": lambda: f"{a} is not in the {ORDINALS[(clue.house or 1) - 1]} house.",
            "same_house": lambda: f"{a} is {b}.",
            "consecutive": lambda: f"{a} is directly left of {b}.",
            "beside": lambda: f"{a} and {b} are next to each other.",
            "left_of": lambda: f"{a} is somewhere to the left of {b}.",
            "right_of": lambda: f"{a} is somewhere to the right of {b}.",
            "one_between": lambda: f"There is one house between {a} and {b}.",
            "two_between": lambda: f"There are two houses between {a} and {b}.",
        }
        text = sentences[clue.kind]()
        return text[0].upper() + text[1:]

    def to_dict(self) -> dict[str, Any]:
        clues = []
        for clue in self.clues:
            row: dict[str, Any] = {"kind": clue.kind, "first": self.ref_text(clue.first)}
            if clue.second is not None:
                row["second"] = self.ref_text(clue.second)
            if clue.house is not None:
                row["house"] = clue.house
            clues.append(row)
        return {
            "n_houses": self.n_houses,
            "attributes": [
                {"key": a.key, "intro": a.intro, "values": list(a.values), "phrases": list(a.phrases)}
                for a in self.attributes
            ],
            "clues": clues,
            "house": self.house,
        }


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_WORD_CHARS:
        raise ValueError(
            f"{what} must be non-empty text of at most {MAX_WORD_CHARS} characters, got {value!r}"
        )
    return value


def _int(value: Any, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{what} must be an integer in {low}..{high}, got {value!r}")
    return value


def problem_from_dict(row: dict[str, Any]) -> ZebraProblem:
    """The inverse of ``ZebraProblem.to_dict``, validating every field (dataset rows, CLI input)."""
    if not isinstance(row, dict):
        raise ValueError("a zebra problem must be an object")
    n = _int(row.get("n_houses"), "n_houses", 2, MAX_HOUSES)
    raw_attributes = row.get("attributes")
    if not isinstance(raw_attributes, list) or not 2 <= len(raw_attributes) <= MAX_ATTRIBUTES:
        raise ValueError(f"attributes must be a list of 2..{MAX_ATTRIBUTES} attributes")
    attributes = []
    for k, raw in enumerate(raw_attributes, 1):
        if not isinstance(raw, dict):
            raise ValueError(f"attribute {k} must be an object with key, intro, values, phrases")
        values, phrases = raw.get("values"), raw.get("phrases")
        if (
            not isinstance(values, list)
            or not isinstance(phrases, list)
            or not len(values) == len(phrases) == n
        ):
            raise ValueError(f"attribute {k} needs {n} values and {n} phrases (one per house)")
        values_t = tuple(_text(v, f"attribute {k} value") for v in values)
        if len({v.lower() for v in values_t}) != n:
            raise ValueError(f"attribute {k} repeats a value")
        attributes.append(
            Attribute(
                _text(raw.get("key"), f"attribute {k} key"),
                _text(raw.get("intro"), f"attribute {k} intro"),
                values_t,
                tuple(_text(p, f"attribute {k} phrase") for p in phrases),
            )
        )
    keys = [a.key for a in attributes]
    if len(set(keys)) != len(keys) or NAME not in keys:
        raise ValueError(f"attribute keys must be distinct and include {NAME!r}")
    index = {(a.key, v): (i, j) for i, a in enumerate(attributes) for j, v in enumerate(a.values)}

    def ref(value: Any, what: str) -> Ref:
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(x, str) for x in value)):
            raise ValueError(f"{what} must be [attribute key, value]")
        try:
            return index[(value[0], value[1])]
        except KeyError:
            raise ValueError(f"{what} {value!r} is not a value of the puzzle") from None

    raw_clues = row.get("clues")
    if not isinstance(raw_clues, list) or len(raw_clues) > MAX_CLUES:
        raise ValueError(f"clues must be a list of at most {MAX_CLUES} clues")
    clues = []
    for k, raw in enumerate(raw_clues, 1):
        if not isinstance(raw, dict):
            raise ValueError(f"clue {k} must be an object")
        kind = raw.get("kind")
        if kind in UNARY_KINDS:
            clue = Clue(
                kind, ref(raw.get("first"), f"clue {k} first"), None, _int(raw.get("house"), "house", 1, n)
            )
        elif kind in BINARY_KINDS:
            clue = Clue(
                kind, ref(raw.get("first"), f"clue {k} first"), ref(raw.get("second"), f"clue {k} second")
            )
        else:
            raise ValueError(
                f"clue {k} has unknown kind {kind!r} (known: {', '.join(UNARY_KINDS + BINARY_KINDS)})"
            )
        clues.append(clue)
    return ZebraProblem(n, tuple(attributes), tuple(clues), _int(row.get("house"), "house", 1, n))
