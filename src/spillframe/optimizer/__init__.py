"""The optimizer: ordered pure rules run to a fixed point."""

from spillframe.optimizer.driver import RULES, optimize

__all__ = ["RULES", "optimize"]
