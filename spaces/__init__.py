"""Search spaces as data, and what lives in them: the MnasNet space (``space``), an architecture
``Arch`` that expands to its ``LayerSpec``s and builds a module (``arch``), named architectures
(``named``), random sampling (``sampling``) and architecture JSON files (``io``).

Every stage above the op vocabulary (``lut``) speaks this vocabulary: the profiler times an
``Arch``'s layers, the predictor predicts it, the search explores it."""
