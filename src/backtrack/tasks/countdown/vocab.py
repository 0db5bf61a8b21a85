"""Every literal string the CountDown formats and prompt write, for the task's tokenizer.

Words are kept whole (the tokenizer also adds each word with a leading space); digits are separate
so numbers split into digits, as in the reference study's ~46-token vocabulary. A test renders every
format and checks that nothing falls outside this list.
"""

WORDS = (
    # Stream-of-Search trace (dfs, think, direct)
    "Current", "State", "Operations", "Operation", "Exploring", "Resulting", "Numbers", "Generated",
    "Node", "Moving", "to", "equal", "unequal", "Goal", "Reached", "No", "Solution",
    # compact
    "Try",
    # backtrack-k
    "<think>", "</think>", "<answer>", "</answer>", "Step", "left", "Wait", "is", "not", "this",
    "doesn't", "lead", "the", "correct", "solution", "Let", "me", "go", "back", "step", "start", "target",
    # prompt
    "Using", "numbers", "make", "Use", "and", "each", "number", "exactly", "once", "at", "most",
    "subtraction", "must", "stay", "positive", "division", "exact", "Show", "your", "work", "give",
    "final", "expression", "in",
)  # fmt: skip
SYMBOLS = (", ", ": ", "+", "-", "*", "/", "=", "[", "]", "#", ",", ":", ".", "'", ";", "(", ")", "<", ">")
DIGITS = tuple("0123456789")
VOCABULARY = WORDS + SYMBOLS + DIGITS
