"""PhotoSort's engine: scanning, decoding, encoding, storing, ranking, exporting.

Nothing under this package imports Qt; the desktop app and the command line both drive it.
"""
