"""A status bar whose messages never run under its permanent widgets.

QStatusBar draws a message across its whole width and the permanent widgets (counts, progress,
zoom) on top of it, so a long message ("Indexing done: … 1 skipped") disappears under "339
photos". This one draws the message only in the room left of them, shortened with "…" when it
does not fit, and shows the whole message as the tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QStatusBar, QToolTip, QWidget

MARGIN = 6
GAP = 12  # between the message and the first permanent widget


class ElidingStatusBar(QStatusBar):
    def message_rect(self) -> QRect:
        """Where a message may be drawn: from the left edge to the first visible widget."""
        right = self.width() - MARGIN
        for child in self.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if child.isVisible() and child.x() > MARGIN:
                right = min(right, child.x() - GAP)
        return QRect(MARGIN, 0, max(0, right - MARGIN), self.height())

    def shown_text(self) -> str:
        """The message as drawn: whole, or shortened to its room."""
        message = self.currentMessage()
        return self.fontMetrics().elidedText(
            message, Qt.TextElideMode.ElideRight, self.message_rect().width()
        )

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        if not self.currentMessage():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawText(
            self.message_rect(),
            Qt.AlignmentFlag.AlignLeading
            | Qt.AlignmentFlag.AlignVCenter
            | Qt.TextFlag.TextSingleLine,
            self.shown_text(),
        )

    def event(self, event: QEvent) -> bool:
        message = self.currentMessage()
        if event.type() == QEvent.Type.ToolTip and message and self.shown_text() != message:
            QToolTip.showText(event.globalPos(), message, self)  # type: ignore[attr-defined]
            return True
        return super().event(event)
