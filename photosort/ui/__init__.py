"""The PySide6 desktop app: a thin front end over `photosort.core`.

Nothing here decodes, queries SQLite or runs a model on the GUI thread: `workers.run_task` sends
that work to thread pools and brings the result back as a Qt signal.
"""

from photosort.ui._pyside_fix import immortalize_singletons

immortalize_singletons()
