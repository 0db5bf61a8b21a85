"""list_functions (reasoning-gym): infer a list-to-list rule from examples; see ``task.py``."""

from backtrack.tasks.list_functions.task import ListFunctions, ListFunctionsConfig, ListFunctionsProblem

__all__ = ["ListFunctions", "ListFunctionsConfig", "ListFunctionsProblem"]
