"""tiersim: agent-based simulation of the gradient-cultivation ladder (SRDI, little giants,
single champions, leading enterprises) under policy levers.

Quick use::

    import sim
    tables = sim.forecast(scenario="shandong", policy="baseline", n_replicates=100, seed=1)
    model = sim.TierModel(scenario_name="liaocheng", policy_name="baseline", seed=1)
"""

from .api import forecast
from .compose import compose
from .config import ConfigError, RunConfig
from .model import TierModel

__all__ = ["forecast", "compose", "ConfigError", "RunConfig", "TierModel"]
__version__ = "0.1.0"
