"""self_reference (reasoning-gym): count consistent truth assignments; see ``task.py``."""

from backtrack.tasks.self_reference.task import SelfReference, SelfReferenceConfig, SelfReferenceProblem

__all__ = ["SelfReference", "SelfReferenceConfig", "SelfReferenceProblem"]
