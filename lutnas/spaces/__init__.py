"""Search spaces as data, and what lives in them: the space interface (``base``), MnasNet's
factorized kind (``space``, its block in ``blocks``), the layer-wise kind of Once-for-All's and
ProxylessNAS's spaces (``elastic``, its table in ``elastic_table``, its block in
``elastic_blocks``), space files and their checks (``spacefile``, ``definition``, ``fields``),
the spaces known by name (``registry``; the built-in ones are shipped files in ``builtin/``),
definitions stored in LUTs and predictors (``stored``), an architecture ``Arch`` that expands to
its ``LayerSpec``s and builds a module (``arch``), named architectures (``named``), random
sampling (``sampling``) and architecture JSON files (``io``).

Every stage above the op vocabulary (``lut``) speaks this vocabulary: the profiler times an
``Arch``'s layers, the predictor predicts it, the search explores it.

    from lutnas.spaces import load_space
    space = load_space("my_space.toml")     # or a name: load_space("mnasnet")
"""

from lutnas.spaces.registry import get_space, list_spaces
from lutnas.spaces.spacefile import load_space, read_space_file

__all__ = ["get_space", "list_spaces", "load_space", "read_space_file"]
