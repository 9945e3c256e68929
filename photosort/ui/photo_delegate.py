"""Paints one grid tile: thumbnail (or placeholder / error tile), name, rank and distance."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from photosort.ui.names import elide_keeping
from photosort.ui.photo_model import PhotoModel
from photosort.ui.snapshot import FAILED, PENDING

ACCENT = QColor("#f5a623")
PLACEHOLDER = QColor(128, 128, 128, 50)
PAD = 6


class PhotoDelegate(QStyledItemDelegate):
    def __init__(self, model: PhotoModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self._font_key: QFont | None = None
        self._name_font = QFont()
        self._name_metrics = QFontMetrics(self._name_font)
        self.thumb = 160
        self.cell_width = 0  # set by the grid when it spreads the columns
        self.show_ranks = True
        self._short_names: dict[tuple[str, tuple[tuple[int, int], ...], int], str] = {}

    def set_thumb_size(self, side: int) -> None:
        self.thumb = side

    def tile_size(self) -> QSize:
        text = QFontMetrics(QFont()).height()
        return QSize(self.thumb + 2 * PAD + 4, self.thumb + 2 * PAD + text + 4)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        # The whole grid cell: the tile is drawn centred in it, so justified columns look even.
        tile = self.tile_size()
        return QSize(max(tile.width(), self.cell_width), tile.height())

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        cell: QRect = option.rect
        width = self.thumb + 2 * PAD
        rect = QRect(
            cell.left() + (cell.width() - width) // 2, cell.top() + 2, width, cell.height() - 4
        )
        palette: QPalette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        tile = self.model.tile(index.row())
        reference = tile.reference
        if selected:
            fill = QColor(palette.color(QPalette.ColorRole.Highlight))
            fill.setAlpha(110)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(rect, 6, 6)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            hover = QColor(palette.color(QPalette.ColorRole.Highlight))
            hover.setAlpha(40)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(hover)
            painter.drawRoundedRect(rect, 6, 6)

        box = QRect(
            rect.left() + (rect.width() - self.thumb) // 2,
            rect.top() + PAD - 2,
            self.thumb,
            self.thumb,
        )
        pm, state, error = tile.pixmap, tile.state, tile.error
        if isinstance(pm, QPixmap) and not pm.isNull():
            scaled = pm.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(box.center())
            painter.drawPixmap(target, pm)
            frame = target
        elif error or state == FAILED:
            frame = self._error_tile(painter, box, palette)
        else:
            frame = self._placeholder(painter, box, palette)

        if state == PENDING and isinstance(pm, QPixmap):
            veil = QColor(palette.color(QPalette.ColorRole.Base))
            veil.setAlpha(90)
            painter.fillRect(frame, veil)
        if reference:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(ACCENT, 3))
            painter.drawRoundedRect(frame.adjusted(-1, -1, 1, 1), 3, 3)
            self._badge(painter, frame, "★ reference", ACCENT, QColor("#1d1d1d"), right=True)
        if self.show_ranks:
            rank, distance = tile.rank, tile.distance
            if rank is not None and not reference:
                text = f"#{rank}" if distance is None else f"#{rank} · {distance:.3f}"
                self._badge(painter, frame, text, QColor(0, 0, 0, 170), QColor("white"))

        name_rect = QRect(
            rect.left() + 4, box.bottom() + 4, rect.width() - 8, rect.bottom() - box.bottom() - 4
        )
        # The selection fill is translucent: the normal text colour stays readable on it.
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        if self._font_key != option.font:
            self._font_key = QFont(option.font)
            self._name_font = QFont(option.font)
            self._name_font.setPointSizeF(max(7.0, option.font.pointSizeF() * 0.9))
            self._name_metrics = QFontMetrics(self._name_font)
            self._short_names.clear()
        painter.setFont(self._name_font)
        elided = self._short_name(tile.name, tile.name_spans, name_rect.width())
        painter.drawText(
            name_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, elided
        )
        painter.restore()

    def _short_name(self, name: str, spans: tuple[tuple[int, int], ...], width: int) -> str:
        """The name as it fits the tile, keeping what tells it from similar names (cached: a
        paint of a hundred tiles must not measure text thousands of times)."""
        key = (name, spans, width)
        text = self._short_names.get(key)
        if text is None:
            metrics = self._name_metrics
            text = elide_keeping(name, spans, lambda t: metrics.horizontalAdvance(t) <= width)
            if len(self._short_names) > 20_000:
                self._short_names.clear()
            self._short_names[key] = text
        return text

    @staticmethod
    def _placeholder(painter: QPainter, box: QRect, palette: QPalette) -> QRect:
        tile = QRect(
            box.adjusted(
                box.width() // 10, box.height() // 6, -box.width() // 10, -box.height() // 6
            )
        )
        painter.fillRect(tile, PLACEHOLDER)
        return tile

    @staticmethod
    def _error_tile(painter: QPainter, box: QRect, palette: QPalette) -> QRect:
        tile = QRect(
            box.adjusted(
                box.width() // 10, box.height() // 6, -box.width() // 10, -box.height() // 6
            )
        )
        painter.setPen(QPen(QColor("#c0392b"), 1.5, Qt.PenStyle.DashLine))
        painter.setBrush(QColor(192, 57, 43, 40))
        painter.drawRoundedRect(tile, 4, 4)
        painter.setPen(QColor("#c0392b"))
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(tile, Qt.AlignmentFlag.AlignCenter, "⚠\nCannot read")
        return tile

    @staticmethod
    def _badge(
        painter: QPainter, frame: QRect, text: str, bg: QColor, fg: QColor, right: bool = False
    ) -> None:
        font = QFont(painter.font())
        font.setBold(True)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        fm = QFontMetrics(font)
        w, h = fm.horizontalAdvance(text) + 10, fm.height() + 4
        x = frame.right() - w - 3 if right else frame.left() + 3
        badge = QRect(x, frame.top() + 3, w, h)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRoundedRect(badge, h / 2, h / 2)
        painter.setPen(fg)
        painter.setFont(font)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
