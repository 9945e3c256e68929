"""The main window: composes the grid, the controllers and the menus; holds no photo logic.

Folder state and indexing live in `Library`, orders in `SortController`, thumbnails in
`ThumbnailCache`, dialogs in `dialogs/`. The window wires their signals together and turns
user gestures into calls on them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from photosort import paths
from photosort.core import disk_cache, exclude
from photosort.core.encoders import Registry
from photosort.core.errors import ModelError
from photosort.core.export import ExportItem
from photosort.core.indexer import IndexReport
from photosort.paths import resource_path
from photosort.ui import ordering
from photosort.ui.desktop import copy_text, open_with_system, show_in_file_manager
from photosort.ui.dialogs.about import show_about
from photosort.ui.dialogs.duplicates import DuplicatesDialog
from photosort.ui.dialogs.export_dialog import ExportDialog, ExportSource
from photosort.ui.dialogs.help import GuideDialog, ShortcutsDialog, shortcut_rows
from photosort.ui.dialogs.preferences import PreferencesDialog
from photosort.ui.dialogs.preview_dialog import PreviewDialog
from photosort.ui.dialogs.skipped_dialog import SkippedDialog
from photosort.ui.empty_state import EmptyState
from photosort.ui.encoder_choice import EncoderSwitch, display_name, tooltip
from photosort.ui.folder_watch import FolderWatcher
from photosort.ui.grid_view import PhotoGrid
from photosort.ui.icons import action_icon, app_icon
from photosort.ui.library import IndexProgress, Library
from photosort.ui.map_panel import MapPanel, map_view_class
from photosort.ui.map_warmup import MapWarmUp
from photosort.ui.ordering import GridOrder
from photosort.ui.photo_menu import PhotoActions, build_photo_menu
from photosort.ui.photo_model import PhotoModel
from photosort.ui.settings import AUTO_THREADS, AppSettings
from photosort.ui.snapshot import FolderSnapshot
from photosort.ui.sorter import SortController, arrange_function
from photosort.ui.status_bar import ElidingStatusBar
from photosort.ui.status_panel import StatusPanel
from photosort.ui.thumbnails import ThumbnailCache
from photosort.ui.workers import Pools, run_task

log = logging.getLogger("photosort.ui")

EMPTY_PAGE, GRID_PAGE = 0, 1


def installed_models(registry: Registry) -> list:
    """The registry's models; none (rather than an exception) when nothing is installed."""
    try:
        return registry.models()
    except ModelError:
        return []


class MainWindow(QMainWindow):
    errorShown = Signal(str)
    cacheTrimmed = Signal(int)  # bytes freed in the thumbnail cache

    def __init__(
        self,
        registry: Registry,
        db_path: str | os.PathLike[str],
        settings: AppSettings,
        thumbnail_dir: Path | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.db_path = str(db_path)
        self.settings = settings
        self.setWindowTitle("PhotoSort")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1200, 800)

        self.pools = Pools()
        self.thumbnails = ThumbnailCache(thumbnail_dir, parent=self)
        self.model = PhotoModel(self.thumbnails, self)
        self.grid = PhotoGrid(self.model)
        self.library = Library(registry, self.db_path, self.pools, self)
        self.sorter = SortController(self.model, self.pools, self)
        self.watcher = FolderWatcher(self.pools.io, self)
        self.status = StatusPanel()
        self.setStatusBar(ElidingStatusBar(self))
        self.statusBar().addPermanentWidget(self.status)
        self.samples = resource_path("samples")
        self.empty = EmptyState(self.samples is not None)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.grid)
        self.setCentralWidget(self.stack)
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("modelSelector")
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_combo.setMinimumContentsLength(16)
        # The grid keeps the keyboard: arrow keys must never switch the encoder by accident.
        self.model_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.encoder_menu = None
        self.encoder_group = QActionGroup(self)
        self.encoder_switch = EncoderSwitch(
            settings,
            self.pools,
            self.db_path,
            {m.id: display_name(m) for m in installed_models(registry)},
            self,
        )
        view_class = map_view_class()
        self.map_panel = MapPanel(self, view_class) if view_class is not None else None
        self.map_warmup = MapWarmUp(parent=self)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._fill_models()
        self._connect()
        self._restore()

    # -- construction -------------------------------------------------------------------------

    def _action(
        self, text: str, slot, shortcut=None, icon: str | None = None, tip: str = ""
    ) -> QAction:
        action = QAction(text, self)
        if icon:
            action.setIcon(action_icon(icon))
        if shortcut is not None:
            if isinstance(shortcut, list):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.open_action = a(
            "&Open Folder…",
            self.choose_folder,
            QKeySequence.StandardKey.Open,
            "open-folder",
            "Open a folder of photos",
        )
        self.samples_action = a("Open the &Sample Photos", self.open_samples, "Ctrl+Shift+O")
        self.samples_action.setEnabled(self.samples is not None)
        self.export_action = a(
            "&Export Sorted Copies…",
            self.show_export,
            "Ctrl+E",
            "export",
            "Copy the photos, renamed in the current order, to a folder",
        )
        self.quit_action = a("&Quit", self.close, "Ctrl+Q")
        self.select_all_action = a(
            "Select &All", self.grid.selectAll, QKeySequence.StandardKey.SelectAll
        )
        self.copy_action = a(
            "&Copy Path",
            lambda: self.copy_paths(self.grid.selected_paths()),
            QKeySequence.StandardKey.Copy,
        )
        self.sort_similar_action = a(
            "Sort by &Similarity",
            self.sort_by_similarity,
            "Ctrl+R",
            "sort-similar",
            "Most similar to the selected photos first",
        )
        self.sort_name_action = a(
            "Sort by &Name", lambda: self.sorter.sort_by(ordering.NAME), "Ctrl+Shift+N"
        )
        self.sort_date_action = a(
            "Sort by &Date Taken", lambda: self.sorter.sort_by(ordering.DATE), "Ctrl+Shift+D"
        )
        self.arrange_action = a(
            "&Arrange by Similarity",
            self.arrange,
            "Ctrl+Shift+R",
            "arrange",
            "Place look-alike photos next to each other",
        )
        self.arrange_action.setVisible(arrange_function() is not None)
        group = QActionGroup(self)
        for act in (
            self.sort_name_action,
            self.sort_date_action,
            self.sort_similar_action,
            self.arrange_action,
        ):
            act.setCheckable(True)
            group.addAction(act)
        self.sort_name_action.setChecked(True)
        self.ranks_action = a("Show &Rank and Distance", self._toggle_ranks, "Ctrl+I")
        self.ranks_action.setCheckable(True)
        self.zoom_in_action = a(
            "Zoom &In",
            lambda: self.grid.zoom(1),
            [QKeySequence.StandardKey.ZoomIn, "Ctrl+="],
            "zoom-in",
        )
        self.zoom_out_action = a(
            "Zoom &Out", lambda: self.grid.zoom(-1), QKeySequence.StandardKey.ZoomOut, "zoom-out"
        )
        self.cancel_action = a("&Cancel Indexing", self.library.cancel_indexing, "Esc", "cancel")
        self.cancel_action.setEnabled(False)
        self.reindex_action = a("&Index Again", lambda: self.library.start_indexing(), "F5")
        self.skipped_action = a("Show S&kipped Files…", self.show_skipped, "Ctrl+K")
        self.preferences_action = a(
            "&Preferences…",
            self.show_preferences,
            "Ctrl+,",
            tip="Encoder, threads, cache, folders to leave out",
        )
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.guide_action = a("&Using PhotoSort", self.show_guide, "F1")
        self.shortcuts_action = a("&Keyboard Shortcuts", self.show_shortcuts, "Ctrl+F1")
        self.about_action = a("&About PhotoSort", self.show_about, "Shift+F1")
        self.duplicates_action = a(
            "&Duplicates…",
            self.show_duplicates,
            "Ctrl+D",
            None,
            "Find copies of the same photo and move the extra ones to the Trash",
        )
        self.preview_action = a("&Preview", self._preview_current, "Space")
        # Space belongs to the grid only (a focused button or list keeps its own Space).
        self.removeAction(self.preview_action)
        self.preview_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.grid.addAction(self.preview_action)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.setObjectName("recentMenu")  # the user's folders: no shortcuts
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addAction(self.samples_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addAction(self.select_all_action)
        edit.addAction(self.copy_action)
        edit.addAction(self.preview_action)
        edit.addSeparator()
        edit.addAction(self.preferences_action)
        view = bar.addMenu("&View")
        for act in (
            self.sort_name_action,
            self.sort_date_action,
            self.sort_similar_action,
            self.arrange_action,
        ):
            view.addAction(act)
        view.addSeparator()
        view.addAction(self.ranks_action)
        view.addAction(self.zoom_in_action)
        view.addAction(self.zoom_out_action)
        view.addSeparator()
        view.addAction(self.duplicates_action)
        if self.map_panel is not None:
            view.addSeparator()
            self.map_action = self.map_panel.toggle_action()
            self.map_action.setIcon(action_icon("map"))
            view.addAction(self.map_action)
            if (fit := getattr(self.map_panel.view, "fit_action", None)) is not None:
                view.addAction(fit)
        index = bar.addMenu("&Index")
        self.encoder_menu = index.addMenu("&Encoder")
        index.addSeparator()
        index.addAction(self.cancel_action)
        index.addAction(self.reindex_action)
        index.addAction(self.skipped_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.guide_action)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addAction(self.open_action)
        tb.addSeparator()
        label = QLabel(" Encoder: ")
        tb.addWidget(label)
        tb.addWidget(self.model_combo)
        tb.addSeparator()
        tb.addAction(self.sort_similar_action)
        if self.arrange_action.isVisible():
            tb.addAction(self.arrange_action)
        tb.addAction(self.export_action)
        if self.map_panel is not None:
            tb.addAction(self.map_action)
        # After any toolbar choice the keyboard goes back to the photos.
        tb.actionTriggered.connect(lambda _a: self.grid.setFocus())
        self.addToolBar(tb)

    def _fill_models(self) -> None:
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for action in self.encoder_group.actions():
            self.encoder_group.removeAction(action)
        if self.encoder_menu is not None:
            self.encoder_menu.clear()
        for i, info in enumerate(installed_models(self.registry)):
            self.model_combo.addItem(display_name(info), info.id)
            self.model_combo.setItemData(i, tooltip(info), Qt.ItemDataRole.ToolTipRole)
            if self.encoder_menu is not None:
                action = self.encoder_menu.addAction(display_name(info))
                action.setData(info.id)
                action.setCheckable(True)
                action.setStatusTip(info.description)
                action.setToolTip(tooltip(info))
                if i < 9:
                    action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
                action.triggered.connect(lambda _=False, m=info.id: self.choose_model(m))
                self.encoder_group.addAction(action)
                self.addAction(action)
        self.model_combo.setEnabled(self.model_combo.count() > 0)
        self.model_combo.blockSignals(False)
        if self.model_combo.count() == 0:
            problems = "; ".join(self.registry.problems)
            self.show_error(
                "No encoder is installed, so photos cannot be indexed."
                + (f" ({problems})" if problems else "")
            )

    def _connect(self) -> None:
        lib = self.library
        lib.folderOpened.connect(self._folder_opened)
        lib.snapshotUpdated.connect(self._snapshot_updated)
        lib.indexStarted.connect(self._index_started)
        lib.indexProgress.connect(self._index_progress)
        lib.indexFinished.connect(self._index_finished)
        lib.referencesIndexed.connect(lambda _: self.sorter.apply())
        lib.error.connect(self.show_error)
        self.watcher.changed.connect(lib.folder_changed)
        lib.busy.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.sorter.needsIndexing.connect(lib.index_first)
        self.sorter.orderApplied.connect(self._order_applied)
        self.sorter.error.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.status.cancelRequested.connect(lib.cancel_indexing)
        self.status.skippedClicked.connect(self.show_skipped)
        self.status.zoomRequested.connect(self.grid.set_thumb_size)
        self.grid.zoomChanged.connect(self.status.set_zoom)
        self.grid.contextMenuWanted.connect(self._context_menu)
        self.grid.photoActivated.connect(self.show_preview)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.empty.openRequested.connect(self.choose_folder)
        self.empty.samplesRequested.connect(self.open_samples)
        self.model_combo.currentIndexChanged.connect(self._model_chosen)
        self.model_combo.activated.connect(lambda _i: self.grid.setFocus())
        self.encoder_switch.accepted.connect(self._switch_model)
        self.encoder_switch.refused.connect(lambda _m: self._show_model(self.library.model_id))
        lib.indexStarted.connect(self.encoder_switch.index_started)
        lib.indexFinished.connect(
            lambda report: self.encoder_switch.index_finished(self.library.model_id, report)
        )
        if self.map_panel is not None:
            self.map_panel.selectionChanged.connect(self._map_selected)
            self.map_panel.sortRequested.connect(self.sort_like)
            self.map_panel.activated.connect(self.show_preview)
            self.map_panel.arrangeRequested.connect(self.arrange)
            self.map_panel.set_arrange_available(self.arrange_action.isVisible())

    def _restore(self) -> None:
        s = self.settings
        if (geometry := s.geometry()) is not None:
            self.restoreGeometry(geometry)
        if (state := s.state()) is not None:
            self.restoreState(state)
        self.grid.set_thumb_size(s.thumb_size)
        self.status.set_zoom(self.grid.thumb_size())
        self.ranks_action.setChecked(s.show_ranks)
        self.grid.delegate.show_ranks = s.show_ranks
        self._show_model(s.default_model_id or s.model_id or "")
        self.status.set_counts(0, 0, 0)
        self._exclude_rules = s.exclude_rules
        QTimer.singleShot(0, self.trim_thumbnail_cache)

    # -- public API (menus, tests, the self-test) ---------------------------------------------

    def current_model_id(self) -> str:
        i = self.model_combo.currentIndex()
        return self.model_combo.itemData(i) or "" if i >= 0 else ""

    def choose_model(self, model_id: str) -> None:
        """Switch the encoder (toolbar, Index ▸ Encoder): asks first if re-indexing is long."""
        i = self.model_combo.findData(model_id)
        if i >= 0:
            self.model_combo.setCurrentIndex(i)  # -> _model_chosen
        self.grid.setFocus()

    def open_folder(self, folder: str) -> None:
        folder = os.path.abspath(os.path.expanduser(folder))
        if not os.path.isdir(folder):
            self.show_error(f"Cannot open {folder}: it is not a folder (or it no longer exists).")
            return
        self.thumbnails.clear()
        self.trim_thumbnail_cache()
        self.sorter.reset()
        self.sort_name_action.setChecked(True)
        self.setWindowTitle(f"{os.path.basename(folder) or folder} — PhotoSort")
        self.settings.last_folder = folder
        self.settings.add_recent(folder)
        self.library.open(folder, self.current_model_id())

    def choose_folder(self) -> None:
        start = self.library.folder or self.settings.last_folder or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", start)
        if folder:
            self.open_folder(folder)

    def open_samples(self) -> None:
        if self.samples is not None:
            self.open_folder(str(self.samples))

    def sort_like(self, paths: list[str]) -> None:
        if not paths:
            return
        self.sort_similar_action.setChecked(True)
        self.sorter.sort_like(paths)

    def sort_by_similarity(self) -> None:
        paths = self.grid.selected_paths() or self.sorter.references
        if not paths:
            self.statusBar().showMessage(
                "Select a photo first, or right-click it ▸ Sort by similarity to this", 6000
            )
            self._check_mode_action(self.sorter.mode)  # undo the menu's check mark
            return
        self.sort_like(paths)

    def arrange(self) -> None:
        self.sorter.sort_by(ordering.ARRANGED)

    def photo_menu(self, row: int):
        """The context menu for a grid row (the right-click menu; tests trigger its actions)."""
        clicked = self.model.path_at(row)
        selected = self.grid.selected_paths()
        actions = PhotoActions(
            sort_like=self.sort_like,
            preview=self.show_preview,
            open_viewer=self.open_in_viewer,
            reveal=self.reveal_in_file_manager,
            copy_paths=self.copy_paths,
            export_selection=lambda: self.show_export(selection=True),
        )
        return build_photo_menu(self, clicked, selected, actions)

    def open_in_viewer(self, path: str) -> None:
        if not open_with_system(path):
            self.show_error(
                f"{os.path.basename(path)} could not be opened in another program: no image "
                "viewer is set up to open it on this computer. Choose a default app for this kind "
                "of file in your system settings, or use Show in File Manager."
            )

    def reveal_in_file_manager(self, path: str) -> None:
        if not show_in_file_manager(path):
            self.show_error(f"No file manager could be started. The photo is here: {path}")

    def copy_paths(self, paths: list[str]) -> None:
        if paths:
            copy_text("\n".join(paths))
            self.statusBar().showMessage(f"Copied {len(paths)} path(s)", 3000)

    def export_source(self) -> ExportSource:
        model = self.model
        items = [ExportItem(p, model.distance_of(p)) for p in model.readable_paths_in_order()]
        selected = [
            ExportItem(p, model.distance_of(p))
            for p in self.grid.selected_paths()
            if model.is_readable(p)
        ]
        folders = [self.library.folder] if self.library.folder else []
        return ExportSource(items, selected, folders, tuple(model.references()))

    def show_export(self, selection: bool = False) -> ExportDialog | None:
        if self.model.rowCount() == 0:
            self.show_error("Open a folder of photos first.")
            return None
        dialog = ExportDialog(
            self.export_source(),
            self.pools.export,
            self.settings.export_target,
            self.settings.export_pattern,
            self,
        )
        if selection and dialog.selection_button.isEnabled():
            dialog.selection_button.setChecked(True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def remember(_report: object) -> None:
            self.settings.export_target = dialog.target.text()
            self.settings.export_pattern = dialog.pattern.text()

        dialog.exportFinished.connect(remember)
        self.export_dialog = dialog
        dialog.open()
        return dialog

    def show_preview(self, path: str) -> PreviewDialog:
        encoder = None
        try:
            if self.current_model_id():
                encoder = self.registry.encoder(self.current_model_id())
        except Exception as exc:
            log.info("no encoder for the preview: %s", exc)
        dialog = PreviewDialog(
            path,
            encoder,
            self.pools.io,
            self,
            neighbour=self._neighbour,
            encoder_name=display_name(encoder.info) if encoder is not None else None,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _neighbour(self, path: str, step: int) -> str | None:
        """The photo `step` places from `path` in the grid's order (preview ← / →)."""
        row = self.model.row_of_path(path)
        if row is None or not 0 <= row + step < self.model.rowCount():
            return None
        target = self.model.path_at(row + step)
        self.grid.select_paths([target])
        return target

    def show_skipped(self) -> SkippedDialog:
        snap = self.library.snapshot
        dialog = SkippedDialog(snap.skipped if snap else [], self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_preferences(self) -> PreferencesDialog:
        dialog = PreferencesDialog(
            self.settings,
            installed_models(self.registry),
            self.thumbnails.cache_dir,
            self.pools.io,
            self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.applied.connect(self.apply_preferences)
        dialog.cacheCleared.connect(self._thumbnail_cache_cleared)
        self.preferences_dialog = dialog
        dialog.open()
        return dialog

    def apply_preferences(self) -> None:
        """Make what Preferences say take effect now."""
        s = self.settings
        self.registry.set_threads(s.threads or AUTO_THREADS)  # the next indexing run uses it
        rules = s.exclude_rules
        changed = rules != self._exclude_rules
        self._exclude_rules = rules
        exclude.set_environment(rules)
        self.trim_thumbnail_cache()
        if s.default_model_id and s.default_model_id != self.current_model_id():
            self.choose_model(s.default_model_id)
        elif changed and self.library.snapshot is not None:
            self.library.folder_changed()  # rescans: left-out photos go, let-in ones come

    def trim_thumbnail_cache(self) -> None:
        """Keep the thumbnail cache within the size set in Preferences (on a worker)."""
        folder = self.thumbnails.cache_dir
        if folder is None:
            return
        limit = self.settings.thumb_cache_mb * disk_cache.MB
        run_task(lambda: disk_cache.trim(folder, limit), self.cacheTrimmed.emit,
                 lambda m: log.info("thumbnail cache not trimmed: %s", m), pool=self.pools.io)  # fmt: skip

    def _thumbnail_cache_cleared(self, _freed: int = 0) -> None:
        self.thumbnails.clear()  # the ones in memory too: the grid asks again
        self.grid.viewport().update()

    def show_guide(self) -> GuideDialog | None:
        guide = paths.guide_path()
        if guide is None:
            self.show_error("The guide (using-the-app.md) is not installed with this copy.")
            return None
        dialog = GuideDialog(guide, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(shortcut_rows(self.menuBar()), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_duplicates(self) -> DuplicatesDialog | None:
        """View ▸ Duplicates: its own window; it follows indexing and asks before any move."""
        snap = self.library.snapshot
        if snap is None:
            self.show_error("Open a folder first, then look for its duplicates.")
            return None
        dialog = DuplicatesDialog(
            self.registry,
            self.db_path,
            snap.folder,
            self.library.model_id,
            self.pools,
            self.thumbnails,
            self.show_preview,
            self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.set_indexing(self.library.indexing)
        self.library.indexStarted.connect(dialog.index_started)
        self.library.indexFinished.connect(dialog.index_finished)
        dialog.trashed.connect(lambda _outcome: self.library.folder_changed())
        dialog.show()
        return dialog

    def show_about(self) -> None:
        show_about(self, self.registry, self.current_model_id(), self.db_path)

    def show_error(self, message: str) -> None:
        """A readable message: in the status bar, and in a (non-blocking) dialog."""
        log.warning("shown to the user: %s", message)
        self.statusBar().showMessage(message, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, "PhotoSort", message, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.errorShown.emit(message)

    # -- reactions ----------------------------------------------------------------------------

    def _folder_opened(self, snap: FolderSnapshot) -> None:
        self.model.set_snapshot(snap)
        self.stack.setCurrentIndex(GRID_PAGE)
        self.grid.scrollToTop()  # a new folder starts at its first photo, not the old place
        self.watcher.watch(snap.folder)  # photos added, changed or removed show up by themselves
        self._update_counts(snap)
        if not len(snap):
            self.statusBar().showMessage("No photos in this folder.", 8000)
        if self.map_panel is not None:
            self.map_panel.load(self.db_path, snap.folder, snap.model_id)

    def _snapshot_updated(self, snap: FolderSnapshot) -> None:
        current = self.model.snapshot
        if current is None or (current.paths is not snap.paths and current.paths != snap.paths):
            self._show_other_files(snap)
        else:
            self.model.update_snapshot(snap)
        self.sorter.on_snapshot_updated(snap)
        self._update_counts(snap)

    def _show_other_files(self, snap: FolderSnapshot) -> None:
        """The folder's files changed (added, removed, renamed): show the new list, keeping
        the selection and the scroll position; the sorter then restores the current order."""
        selected = self.grid.selected_paths()
        scroll = self.grid.verticalScrollBar().value()
        self.model.set_snapshot(snap)
        if selected:
            self.grid.select_paths(selected, scroll=False)
        self.grid.verticalScrollBar().setValue(scroll)

    def _update_counts(self, snap: FolderSnapshot) -> None:
        self.status.set_counts(len(snap), snap.indexed_count, len(snap.skipped))

    def _index_started(self) -> None:
        self.status.set_indexing(True)
        self.cancel_action.setEnabled(True)

    def _index_progress(self, p: IndexProgress) -> None:
        self.status.show_progress(p)

    def _index_finished(self, report: IndexReport) -> None:
        self.status.set_indexing(False)
        self.cancel_action.setEnabled(False)
        text = "Indexing cancelled" if report.cancelled else "Indexing done"
        self.statusBar().showMessage(f"{text}: {report.summary()}", 8000)
        snap = self.library.snapshot
        if self.map_panel is not None and snap is not None and not report.cancelled:
            # Compile the map's kernels now, in the background, so the first map is quick;
            # started first, so that a visible map's new job waits for it (map_warmup).
            self.map_warmup.start()
            self.map_panel.reload(self.db_path, snap.folder, snap.model_id)

    def _order_applied(self, order: GridOrder, fresh: bool) -> None:
        self._check_mode_action(order.mode)
        if order.mode == ordering.SIMILARITY:
            if fresh:  # a refresh while indexing must not yank the view back to the top
                self.grid.scrollToTop()
                self.statusBar().showMessage(self._similarity_message(order.references))
            if self.map_panel is not None:
                top = self.model.paths_in_order()[: 1 + len(order.references) + 24]
                self.map_panel.set_highlight(list(order.references), top[len(order.references) :])
        elif self.map_panel is not None:
            self.map_panel.clear_highlight()  # by name, date or arranged: no reference

    def _check_mode_action(self, mode: str) -> None:
        action = {
            ordering.NAME: self.sort_name_action,
            ordering.DATE: self.sort_date_action,
            ordering.SIMILARITY: self.sort_similar_action,
            ordering.ARRANGED: self.arrange_action,
        }.get(mode)
        if action is not None:
            action.setChecked(True)

    def _similarity_message(self, references: tuple[str, ...]) -> str:
        names = ", ".join(os.path.basename(p) for p in references[:3])
        more = len(references) - 3
        names += f" and {more} more" if more > 0 else ""
        try:
            encoder = display_name(self.registry.info(self.current_model_id()))
        except ModelError:
            encoder = self.current_model_id()
        return f"Most similar to {names} first ({encoder})"

    def _selection_changed(self, *_: object) -> None:
        if self.map_panel is not None:
            self.map_panel.set_selected(self.grid.selected_paths())

    def _map_selected(self, paths: list[str]) -> None:
        self.grid.select_paths(paths)

    def _show_model(self, model_id: str) -> None:
        """Show `model_id` as the chosen encoder (combo and menu) without switching anything."""
        i = self.model_combo.findData(model_id) if model_id else -1
        self.model_combo.blockSignals(True)
        self.model_combo.setCurrentIndex(i if i >= 0 else 0)
        self.model_combo.blockSignals(False)
        current = self.current_model_id()
        for action in self.encoder_group.actions():
            action.setChecked(action.data() == current)

    def _model_chosen(self, _index: int) -> None:
        model_id = self.current_model_id()
        if not model_id:
            return
        for action in self.encoder_group.actions():
            action.setChecked(action.data() == model_id)
        snap = self.library.snapshot
        if snap is None or model_id == self.library.model_id:
            self._switch_model(model_id)
            return
        self.encoder_switch.request(model_id, snap.folder, list(snap.paths))

    def _switch_model(self, model_id: str) -> None:
        self._show_model(model_id)
        self.settings.model_id = model_id
        self.library.set_model(model_id)
        if self.map_panel is not None and self.library.snapshot is not None:
            self.map_panel.load(self.db_path, self.library.snapshot.folder, model_id)

    def _preview_current(self) -> None:
        index = self.grid.currentIndex()
        if index.isValid():
            self.show_preview(self.model.path_at(index.row()))

    def _context_menu(self, row: int, pos: QPoint) -> None:
        menu = self.photo_menu(row)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(pos)

    def _toggle_ranks(self, checked: bool) -> None:
        self.grid.delegate.show_ranks = checked
        self.settings.show_ranks = checked
        self.grid.viewport().update()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_folders()
        for folder in recent:
            self.recent_menu.addAction(folder).triggered.connect(
                lambda _=False, f=folder: self.open_folder(f)
            )
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Menu").triggered.connect(self.settings.clear_recent)
        else:
            self.recent_menu.addAction("No recent folders").setEnabled(False)

    # -- window events ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(os.path.isdir(u.toLocalFile()) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if os.path.isdir(path):
                event.acceptProposedAction()
                self.open_folder(path)
                return

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.thumb_size = self.grid.thumb_size()
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop background work and wait briefly for it (a batch in flight finishes)."""
        self.library.close()
        self.watcher.stop(wait=True)
        # The map before the warm-up: a map job waiting for the warm-up must see its cancel,
        # not go on to compile UMAP's kernels itself once the warm-up is stopped.
        if self.map_panel is not None:
            self.map_panel.shutdown()
        self.map_warmup.shutdown()
        self.thumbnails.shutdown()
        self.pools.wait(15_000)

    def start_with(self, folder: str | None) -> None:
        """Open `folder`, else the last folder, else show the empty state."""
        target = folder or self.settings.last_folder
        if target and os.path.isdir(target):
            QTimer.singleShot(0, lambda: self.open_folder(target))
        elif folder:
            QTimer.singleShot(0, lambda: self.show_error(f"Cannot open {folder}: not a folder."))
