"""lutnas: latency lookup tables, a latency predictor and hardware-aware search for mobile networks.

The work lives in the top-level packages ``lut`` (op vocabulary and the table), ``profiler``
(backends that time layers and the loop that fills a table), ``predictor`` and ``search``.
This package holds only the tool version, the shared error type and the ``lutnas`` command.
"""

__version__ = "0.1.0"

from lutnas.errors import LutnasError

__all__ = ["LutnasError", "__version__"]
