"""The department worklist every department service shares: assignments and the duty roster.

A department service calls ``define_worklist(Base, Stage.X)`` in its models and includes
``worklist_router(...)`` in its app; the rules live in ``domain``, the data access in
``service``, the HTTP surface in ``api``.
"""

from kliniki.worklist.models import WorklistModels, define_worklist

__all__ = ["WorklistModels", "define_worklist"]
