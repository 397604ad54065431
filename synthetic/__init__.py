"""The calibrated synthetic supervision world (a data source for demos, tests and evaluation).

``generate_world(WorldParams(seed=...), config)`` returns a :class:`World` with the contract's tables,
the truth behind them (latent risk, true deficiency probabilities) and the injected faults. The library
is pure; :mod:`synthetic.writer` writes a world to disk. See ``docs/synthetic-world.md``.
"""

from synthetic.faults import FAULT_IDS, Fault
from synthetic.params import WorldParams
from synthetic.world import World, generate_world

__all__ = ["FAULT_IDS", "Fault", "World", "WorldParams", "generate_world"]
