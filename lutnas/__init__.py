"""lutnas: latency lookup tables, a latency predictor and hardware-aware search for mobile networks.

The work lives in the top-level packages ``lut`` (op vocabulary and the table), ``profiler``
(backends that time layers and the loop that fills a table), ``predictor`` and ``search``.
This package holds what is ours beyond them, under one name that collides with no other
distribution: the tool version, the shared error type and helpers every layer uses (``errors``,
``sqlite``, ``filelock``, ``registry``), the search spaces (``lutnas.spaces``) and the commands
(``lutnas.cli``).
"""

__version__ = "0.1.0"

from lutnas.errors import LutnasError

__all__ = ["LutnasError", "__version__"]
