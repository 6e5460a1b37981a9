"""The command lines, the top layer: ``lutnas`` (``main``) with one module per subcommand, and
``profile-device`` (``profile``). Each module has ``add_arguments(parser)`` and ``run(args)``;
nothing below imports them."""
