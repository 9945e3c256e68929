"""Subcommands of `photosort`. Each module defines NAME, HELP, configure(parser) and run(args).

Modules import their heavy dependencies inside run(), so `photosort --help` stays instant.
"""
