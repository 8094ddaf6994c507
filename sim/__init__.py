"""tiersim: agent-based simulation of the gradient-cultivation ladder (SRDI, little giants,
single champions, leading enterprises) under policy levers.

Quick use::

    import sim
    tables = sim.forecast(scenario="shandong", policy="baseline", n_replicates=100, seed=1)
    model = sim.TierModel(scenario_name="liaocheng", policy_name="baseline", seed=1)
"""

from sim.config.compose import TierModel, compose
from sim.core.errors import UserError
from sim.core.schema import ConfigError, RunConfig
from sim.pipelines.api import forecast

__all__ = ["forecast", "compose", "ConfigError", "UserError", "RunConfig", "TierModel"]
__version__ = "0.1.0"
