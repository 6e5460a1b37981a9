"""Search spaces as data, and what lives in them: the space interface (``base``), MnasNet's
factorized space (``space``, its block in ``blocks``), Once-for-All's layer-wise MobileNetV3
space (``elastic``, its block in ``elastic_blocks``), the registry of spaces by name
(``registry``), an architecture ``Arch`` that expands to its ``LayerSpec``s and builds a module
(``arch``), named architectures (``named``), random sampling (``sampling``) and architecture
JSON files (``io``).

Every stage above the op vocabulary (``lut``) speaks this vocabulary: the profiler times an
``Arch``'s layers, the predictor predicts it, the search explores it."""

# Both kinds of space register on import, so every name is known whichever module asks first.
from lutnas.spaces import elastic as _elastic  # noqa: F401
from lutnas.spaces import space as _space  # noqa: F401
