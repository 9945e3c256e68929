"""A guard against a reference-counting bug of shiboken6 6.12 on Python < 3.12.

On Python 3.11 with PySide6/shiboken6 6.12.0, every Python slot that returns None (i.e. almost
every slot), every `Signal.emit()` (which returns True) and every invalid QVariant handed back
to Python drops one reference to None/True/False that it never took: shiboken treats them as
immortal, as they are from Python 3.12 on. After a few thousand signals the interpreter aborts
with "Fatal Python error: none_dealloc" (or bool_dealloc). Measured here: a QTimer connected to
`def f(): pass` loses one reference to None per timeout.

Python 3.12 made these singletons immortal; on older Pythons we do the same by hand, giving them
a reference count no program can exhaust. They are never freed anyway, so nothing else changes.
"""

from __future__ import annotations

import ctypes
import sys

_DONE = False
_BOOST = 1 << 40


def immortalize_singletons() -> None:
    global _DONE
    if _DONE or sys.version_info >= (3, 12) or hasattr(sys, "getobjects"):  # debug builds differ
        return
    _DONE = True
    for obj in (None, True, False, Ellipsis, NotImplemented):
        # ob_refcnt is the first field of every PyObject in a release build.
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
