"""Loading a predictor for a command: with the rows its LUT gained after the fit.

``lutnas fit`` copies the LUT's rows into the predictor. Rows measured into that LUT later
(``lutnas predict --measure-missing``, ``profile-device --arch ...``) are used by the next
``lutnas predict`` and ``lutnas calibrate`` without refitting, and the command says so; rows
the predictor holds keep the values it was fitted on. ``--lut FILE`` names another LUT of the
same configuration (all its rows are used). ``lutnas search`` does not do this: a search
record is bound to the predictor as fitted.
"""

from __future__ import annotations

import sys

from lutnas.errors import LutnasError


def load_predictor(path: str, lut: str | None = None):
    """The predictor at ``path``; with ``lut``, that LUT's rows too (all of them), else the rows
    its own LUT gained since the fit (announced on stderr, so ``--json`` output stays clean).

    Raises:
        LutnasError: an unreadable predictor, or a ``lut`` of another configuration.
    """
    from predictor import LatencyPredictor

    predictor = LatencyPredictor.load(path, lut=lut)
    if lut is not None:
        return predictor
    try:
        gained = predictor.add_rows_gained()
    except LutnasError as exc:
        print(f"note: the rows of {predictor.lut_path} are not used: {exc}", file=sys.stderr)
        return predictor
    if gained:
        print(
            f"using {len(gained)} rows measured into {predictor.lut_path} after {path} was fitted",
            file=sys.stderr,
        )
    return predictor
