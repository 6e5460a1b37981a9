"""The predictor's ``lutnas`` subcommands: ``fit``, ``predict``, ``evaluate`` (one module each)."""
