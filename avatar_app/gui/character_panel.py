"""The character: which body the pose drives, how the live avatar is framed, and where characters come from.

A character is what ``--character`` names in the CLI (``pipeline.defaults.open_character_arg``):
a character folder (``avatar-app fit`` or New character from drawings… makes them: body, sheet,
framing, optional weights) or a bare .glb/.vrm body. The panel holds the open one as a
`CharacterChoice` and says in one line which body the pose drives; the window builds the live
pipeline from it, as ``stream`` does. The framing list starts at the character's own
("as drawn") and offers the four named framings.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from avatar_app.core.errors import AvatarAppError
from avatar_app.gui.adapt_dialog import AdaptDialog
from avatar_app.gui.fit_editor import FRAMING_LABELS, FitEditorDialog
from avatar_app.gui.new_character_dialog import NewCharacterDialog
from avatar_app.gui.sheet_panel import ERROR_STYLE, INFO_STYLE
from avatar_app.io.character_folder import CHARACTER_JSON
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, FRAMINGS, CharacterChoice, open_character_arg

log = logging.getLogger(__name__)

OPEN_FILTER = "Characters (character.json *.glb *.vrm *.gltf);;All files (*)"
NEWCOMER_HINT = "Your own character: New from drawings… makes one from your pictures. Open… opens one you made before."


def framing_text(framing: str | float, named: str | None = None) -> str:
    """``bust``, or ``bust (cut at 0.83 m)`` for a measured cut."""
    if isinstance(framing, str):
        return FRAMING_LABELS.get(framing, framing).lower()
    return f"{FRAMING_LABELS.get(named or '', 'cut').lower()}, cut at {framing:.2f} m"


class CharacterPanel(QGroupBox):
    characterChanged = pyqtSignal()  # another character, or the same one saved with edits (`choice`)
    framingChanged = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__("Character", parent)
        self.choice: CharacterChoice = _built_in()
        self.new_dialog: NewCharacterDialog | None = None
        self.editor: FitEditorDialog | None = None
        self.adapt_dialog: AdaptDialog | None = None
        self.body_label = QLabel("")
        self.body_label.setWordWrap(True)
        self.body_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.framing = QComboBox()
        self.framing.addItem("as drawn", None)
        for name in FRAMINGS:
            self.framing.addItem(FRAMING_LABELS[name], name)
        self.framing.setToolTip("How much of the body the live picture shows; 'as drawn' follows the character's fit")
        self.framing.currentIndexChanged.connect(lambda _: self.framingChanged.emit())
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("A character made before with New from drawings… (its folder), or a .glb/.vrm body")
        self.open_button.clicked.connect(self.choose_file)
        self.new_button = QPushButton("New from drawings…")
        self.new_button.setToolTip(
            "Start here for a character of your own: pick your drawings (PNGs with transparent backgrounds); "
            "a body is fitted to them and saved with them as a character folder (10–60 s)"
        )
        self.new_button.clicked.connect(lambda: self.new_from_drawings())
        self.edit_button = QPushButton("Edit fit…")
        self.edit_button.clicked.connect(self.edit_fit)
        self.adapt_button = QPushButton("Adapt…")
        self.adapt_button.clicked.connect(self.adapt)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.hint = QLabel(NEWCOMER_HINT)  # shown while the built-in character is open
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(INFO_STYLE)

        form = QFormLayout()
        form.addRow("Framing", self.framing)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.open_button):  # the way in for a newcomer first
            buttons.addWidget(button)
        this_one = QHBoxLayout()
        for button in (self.edit_button, self.adapt_button):
            this_one.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.body_label)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
        layout.addLayout(this_one)
        layout.addWidget(self.message)
        self._show_choice()

    # ---- what is chosen ----

    @property
    def live_framing(self) -> str | float:
        """The framing the live pipeline uses: the one picked, else the character's own."""
        return self.framing.currentData() or self.choice.framing

    @property
    def sheet_dir(self) -> Path:
        return self.choice.sheet_dir

    @property
    def weights(self) -> Path | None:
        return self.choice.weights

    # ---- opening ----

    def open_path(self, path: str | Path) -> bool:
        """Open a character folder (or its character.json) or a body file; False, with the error shown, if unusable."""
        path = Path(path)
        if path.name == CHARACTER_JSON:
            path = path.parent
        try:
            choice = open_character_arg(path)
        except AvatarAppError as exc:
            self.show_message(f"Could not open {path}: {exc}", error=True)
            return False
        self._set_choice(choice, keep_framing=False)
        return True

    def choose_file(self) -> None:
        start = str(self.choice.folder.root.parent) if self.choice.folder else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open character (character.json) or body", start, OPEN_FILTER)
        if path:
            self.open_path(path)

    def new_from_drawings(self, drawings: Path | None = None, out: Path | None = None) -> NewCharacterDialog:
        if self.new_dialog is not None and self.new_dialog.running:
            self.new_dialog.show()
            self.new_dialog.raise_()
            return self.new_dialog
        self.new_dialog = NewCharacterDialog(self.window(), drawings=drawings, out=out)
        self.new_dialog.characterMade.connect(self.open_path)
        self.new_dialog.show()
        return self.new_dialog

    def edit_fit(self) -> FitEditorDialog | None:
        folder = self.choice.folder
        if not is_fitted(self.choice):
            self.show_message(
                "Only a character made from drawings has a fit to edit (the built-in one is shipped as it is); "
                "open or make one first.",
                error=True,
            )
            return None
        if self.editor is not None and self.editor.isVisible() and self.editor.edit.folder.root == folder.root:
            self.editor.raise_()
            return self.editor
        try:
            self.editor = FitEditorDialog(folder, self.window())
        except AvatarAppError as exc:
            self.show_message(str(exc), error=True)
            return None
        self.editor.characterSaved.connect(self._saved)
        self.editor.show()
        return self.editor

    def adapt(self) -> AdaptDialog | None:
        """The Adapt… dialog for the open character (the running one again, if it is still running)."""
        why_not = adapt_blocker(self.choice)
        if why_not:
            self.show_message(f"Adapt… {why_not}.", error=True)
            return None
        root = self.choice.folder.root
        dialog = self.adapt_dialog
        if dialog is not None and (dialog.running or (dialog.isVisible() and dialog.root == root)):
            dialog.show()
            dialog.raise_()
            return dialog
        self.adapt_dialog = AdaptDialog(root, self.window())
        self.adapt_dialog.weightsChanged.connect(self._adapted)
        self.adapt_dialog.show()
        return self.adapt_dialog

    def _saved(self, folder) -> None:
        """The editor rewrote the open character: the same folder, read again."""
        self._reopen(folder.root, "after saving")

    def _adapted(self, root: Path) -> None:
        """Adapt wrote new weights/: reopened, the live view restarts with them (if the character is still open)."""
        folder = self.choice.folder
        if folder is None or folder.root.resolve() != Path(root).resolve():
            self.show_message(f"The adapted weights of {root} are ready: open it to use them.")
            return
        if self._reopen(root, "after adapting"):
            self.show_message(f"The live view uses the adapted weights in {self.choice.weights}.")

    def _reopen(self, root: Path, when: str) -> bool:
        try:
            choice = open_character_arg(root)
        except AvatarAppError as exc:
            self.show_message(f"Could not reopen {root} {when}: {exc}", error=True)
            return False
        self._set_choice(choice)
        return True

    def _set_choice(self, choice: CharacterChoice, *, keep_framing: bool = True) -> None:
        self.choice = choice
        if not keep_framing:
            blocked = self.framing.blockSignals(True)
            self.framing.setCurrentIndex(0)  # a new character comes with its own framing
            self.framing.blockSignals(blocked)
        self._show_choice()
        self.show_message("")
        self.characterChanged.emit()

    # ---- showing ----

    def _show_choice(self) -> None:
        choice = self.choice
        self.body_label.setText(character_line(choice))
        self.hint.setVisible(choice.body is None)
        self.body_label.setToolTip(str(choice.folder.root if choice.folder else choice.body or "built in"))
        named = choice.folder.framing if choice.folder else None
        self.framing.setItemText(0, f"As drawn ({framing_text(choice.framing, named)})")
        fitted = is_fitted(choice)
        self.edit_button.setEnabled(fitted)
        self.edit_button.setToolTip(
            "Look at the fit, change the proxy's shape and the framings, re-fit, save"
            if fitted
            else "Open a character made from drawings to edit its fit"
        )
        why_not = adapt_blocker(choice)
        self.adapt_button.setEnabled(not why_not)
        self.adapt_button.setToolTip(
            f"Adapt… {why_not}"
            if why_not
            else "Fine-tune the renderer to this character's drawings (minutes; it can be stopped and resumed)"
        )

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else INFO_STYLE)
        self.message.setVisible(bool(text))

    @property
    def message_is_error(self) -> bool:
        return self.message.isVisible() and self.message.styleSheet() == ERROR_STYLE

    # ---- settings and shutdown ----

    def apply_settings(self, settings) -> list[str]:
        """Open the saved character and framing (quietly); warnings for what could not be used."""
        warnings = []
        if settings.character:
            try:
                self.choice = open_character_arg(settings.character)
            except AvatarAppError as exc:
                warnings.append(f"the saved character is unusable ({exc}); using the built-in one")
        index = self.framing.findData(settings.framing) if settings.framing else 0
        if index < 0:
            warnings.append(f"settings: framing {settings.framing!r} is not one of {', '.join(FRAMINGS)}; as drawn")
        blocked = self.framing.blockSignals(True)
        self.framing.setCurrentIndex(max(0, index))
        self.framing.blockSignals(blocked)
        self._show_choice()
        for warning in warnings:
            log.warning("%s", warning)
        return warnings

    def store_settings(self, settings) -> None:
        choice = self.choice
        if choice.body is None:  # the built-in character
            settings.character = ""
        else:
            settings.character = str(choice.folder.root if choice.folder else choice.body)
        settings.framing = self.framing.currentData() or ""

    def join(self, timeout: float = 10.0) -> None:
        for dialog in (self.new_dialog, self.editor, self.adapt_dialog):
            if dialog is not None:
                dialog.join(timeout)


def character_line(choice: CharacterChoice) -> str:
    """Which character the live avatar is, in the user's words (the files stay in the tooltip)."""
    folder = choice.folder
    shown = f"shown {framing_text(choice.framing, folder.framing if folder else None)}"
    if choice.body is None:
        return f"The built-in character, {shown}."
    if folder is None:
        return f"The 3D body {choice.body.name}, {shown}."
    made = ", made from your drawings" if is_fitted(choice) else ""
    adapted = "; the renderer is adapted to it" if choice.weights is not None else ""
    return f"{folder.name}{made}, {shown}{adapted}."


def is_fitted(choice: CharacterChoice) -> bool:
    """A character folder a fit made (each view has its camera and pose), and not the shipped one."""
    folder = choice.folder
    if folder is None or folder.root.resolve() == DEFAULT_CHARACTER.resolve() or not folder.views:
        return False
    return all("params" in view for view in folder.views)


def adapt_blocker(choice: CharacterChoice) -> str:
    """Why Adapt… cannot run on ``choice`` (it needs a fitted folder's sheet_udp/), or ""."""
    folder = choice.folder
    if folder is None:
        return "needs a character folder made from drawings (run fit first: New from drawings…)"
    if folder.root.resolve() == DEFAULT_CHARACTER.resolve():
        return "is not for the built-in character: the built-in character ships its weights"
    if not folder.sheet_udp_dir.is_dir():
        return "needs the fit's sheet_udp/ in the character folder (run fit first: New from drawings…)"
    return ""


def _built_in() -> CharacterChoice:
    try:
        return open_character_arg(None)
    except AvatarAppError as exc:  # a broken character.json in the shipped folder: still start
        log.warning("the built-in character folder is unusable (%s); using its body alone", exc)
        return CharacterChoice(None, None)
