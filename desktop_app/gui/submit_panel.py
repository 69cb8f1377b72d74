"""The submit panel: pick a task, fill a form built from its signature, enqueue it.

Input is validated on every change with the same binder the command line uses, so an
invalid call shows its error next to the form and the Submit button stays disabled.
The enqueue itself (storage I/O) runs on the thread pool, never on the GUI thread.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import json
import types
import typing
from typing import Any

from PySide6.QtCore import QDate, QDateTime, QSettings, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.catalogue import Catalogue, ParamInfo, TaskInfo, signature_text
from desktop_app.core.convert import bind_arguments
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.errors import UserError
from desktop_app.gui.jobs import run_job
from desktop_app.gui.models import seconds

INT_LIMIT = 2_000_000_000
RECENT = 10

# Dates shown as ISO 8601, whatever the locale's short format (one had no separators).
DATE_FORMAT = "yyyy-MM-dd"
DATETIME_FORMAT = "yyyy-MM-dd HH:mm"


def optional_of(annotation: Any) -> tuple[Any, bool]:
    """``(T, True)`` for ``T | None`` (``Optional[T]``), else ``(annotation, False)``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1 and len(options) < len(typing.get_args(annotation)):
            return options[0], True
    return annotation, False


class ParamEditor:
    """One parameter's widget and how to read a JSON-ready value out of it.

    A typed parameter that may be None (``date | None``) gets its typed widget and a
    "none" check box beside it, so nobody has to type quoted JSON for it.
    """

    def __init__(self, param: ParamInfo) -> None:
        self.param = param
        annotation, optional = optional_of(param.annotation)
        default = param.default
        has_default = default is not inspect.Parameter.empty
        self.kind = "json"
        self.none: QCheckBox | None = None
        if param.kind == "VAR_POSITIONAL":
            self.input: QWidget = QLineEdit("[]")
        elif param.kind == "VAR_KEYWORD":
            self.input = QLineEdit("{}")
        elif annotation is bool:
            self.kind = "bool"
            self.input = QCheckBox()
            self.input.setChecked(bool(default) if has_default else False)
        elif annotation is int:
            self.kind = "int"
            self.input = QSpinBox()
            self.input.setRange(-INT_LIMIT, INT_LIMIT)
            self.input.setValue(default if has_default and isinstance(default, int) else 0)
        elif annotation is float:
            self.kind = "float"
            self.input = QDoubleSpinBox()
            self.input.setRange(-1e12, 1e12)
            self.input.setDecimals(3)
            self.input.setValue(
                float(default) if has_default and isinstance(default, (int, float)) else 0.0
            )
        elif annotation is str:
            self.kind = "str"
            self.input = QLineEdit(default if has_default and isinstance(default, str) else "")
        elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            self.kind = "enum"
            self.input = QComboBox()
            for member in annotation:
                self.input.addItem(f"{member.name} ({member.value!r})", member.value)
            if has_default and isinstance(default, annotation):
                self.input.setCurrentIndex(list(annotation).index(default))
        elif annotation is dt.datetime:
            self.kind = "datetime"
            self.input = QDateTimeEdit(QDateTime.currentDateTime())
            self.input.setCalendarPopup(True)
            self.input.setDisplayFormat(DATETIME_FORMAT)
            if has_default and isinstance(default, dt.datetime):
                self.input.setDateTime(default)
        elif annotation is dt.date:
            self.kind = "date"
            self.input = QDateEdit(QDate.currentDate())
            self.input.setCalendarPopup(True)
            self.input.setDisplayFormat(DATE_FORMAT)
            if has_default and isinstance(default, dt.date):
                self.input.setDate(default)
        else:
            text = "" if not has_default else json.dumps(_jsonable(default))
            self.input = QLineEdit(text)
            self.input.setPlaceholderText('JSON, e.g. null, 3, "text", [1, 2]')
        self.input.setObjectName(f"param-{param.name}")
        self.input.setToolTip(param.annotation_text or "any JSON value")
        self.widget: QWidget = self.input
        if optional and self.kind != "json":
            self.none = QCheckBox("none")
            self.none.setObjectName(f"param-{param.name}-none")
            self.none.setToolTip(f"Pass None for {param.name}")
            self.none.toggled.connect(lambda on: self.input.setEnabled(not on))
            self.none.setChecked(has_default and default is None)
            self.widget = QWidget()
            row = QHBoxLayout(self.widget)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(self.input, 1)
            row.addWidget(self.none)

    def value(self) -> Any:
        """The value as JSON would carry it; raises ``ValueError`` on bad JSON."""
        w = self.input
        if self.none is not None and self.none.isChecked():
            return None
        if self.kind == "bool":
            return w.isChecked()
        if self.kind == "int":
            return w.value()
        if self.kind == "float":
            return w.value()
        if self.kind == "str":
            return w.text()
        if self.kind == "enum":
            return w.currentData()
        if self.kind == "datetime":
            return w.dateTime().toPython().isoformat()
        if self.kind == "date":
            return w.date().toPython().isoformat()
        text = w.text().strip()
        if not text:
            raise ValueError("needs a value (JSON)")
        try:
            return json.loads(text, parse_constant=_refuse)
        except ValueError as exc:
            raise ValueError(f"is not valid JSON ({exc})") from None

    def set_value(self, value: Any) -> None:
        """Fill the widget from a JSON-ready value (as the journal recorded it)."""
        w = self.input
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("$"):
            ((tag, body),) = value.items()
            value = body[1] if tag == "$enum" else body
        if self.none is not None:
            self.none.setChecked(value is None)
            if value is None:
                return
        if self.kind == "bool":
            w.setChecked(bool(value))
        elif self.kind == "int" and isinstance(value, (int, float)):
            w.setValue(int(value))
        elif self.kind == "float" and isinstance(value, (int, float)):
            w.setValue(float(value))
        elif self.kind == "str":
            w.setText(str(value))
        elif self.kind == "enum":
            index = w.findData(value)
            if index >= 0:
                w.setCurrentIndex(index)
        elif self.kind == "datetime" and isinstance(value, str):
            w.setDateTime(QDateTime.fromString(value, Qt.DateFormat.ISODate))
        elif self.kind == "date" and isinstance(value, str):
            w.setDate(QDate.fromString(value, Qt.DateFormat.ISODate))
        elif self.kind == "json":
            w.setText(json.dumps(value))

    def changed_signals(self) -> list[Any]:
        """The signals that say the value may have changed."""
        signals = [self.none.toggled] if self.none is not None else []
        for name in (
            "textChanged",
            "valueChanged",
            "toggled",
            "currentIndexChanged",
            "dateTimeChanged",
            "dateChanged",
        ):
            signal = getattr(self.input, name, None)
            if signal is not None:
                return [signal, *signals]
        raise AssertionError(f"no change signal on {self.input}")


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    try:
        json.dumps(value)
    except TypeError:
        return None
    return value


class SubmitPanel(QWidget):
    """Task list, argument form, when to run, priority, Submit."""

    submitted = Signal(str)  # the new task id

    def __init__(
        self,
        catalogue: Catalogue,
        dispatcher: Dispatcher,
        parent: QWidget | None = None,
        inspector: Any = None,
    ) -> None:
        super().__init__(parent)
        self.catalogue = catalogue
        self.dispatcher = dispatcher
        self.inspector = inspector  # for the estimated start; None: no estimate
        self.consumer: Any = None  # the window's consumer process, when it runs one
        self.settings = QSettings("huey-desk", "huey-desk")
        self.editors: list[ParamEditor] = []
        self.task: TaskInfo | None = None

        self.search = QLineEdit(placeholderText="Filter tasks")
        self.search.setObjectName("task-filter")
        self.search.textChanged.connect(self._filter)
        self.tasks = QListWidget()
        self.tasks.setObjectName("task-list")
        for info in catalogue:
            item = QListWidgetItem(info.short_name + ("  ⟳" if info.periodic else ""))
            item.setData(Qt.ItemDataRole.UserRole, info.name)
            item.setToolTip(f"{info.name}{signature_text(info.signature)}\n\n{info.doc}")
            self.tasks.addItem(item)
        self.tasks.currentItemChanged.connect(self._select)

        self.about = QLabel(wordWrap=True)
        self.about.setObjectName("task-about")
        self.about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form_box = QGroupBox("Arguments")
        self.form = QFormLayout(self.form_box)

        when_box = QGroupBox("When")
        self.when_now = QRadioButton("Now", checked=True)
        self.when_delay = QRadioButton("After")
        self.when_eta = QRadioButton("At")
        self.when_group = QButtonGroup(self)
        for button in (self.when_now, self.when_delay, self.when_eta):
            self.when_group.addButton(button)
            button.toggled.connect(self._validate)
        self.delay = QDoubleSpinBox(suffix=" s", maximum=10 * 365 * 86400.0, value=60.0)
        self.eta = QDateTimeEdit(QDateTime.currentDateTime().addSecs(3600), calendarPopup=True)
        self.eta.setDisplayFormat(DATETIME_FORMAT)
        self.priority = QLineEdit(placeholderText="task default")
        self.priority.setObjectName("priority")
        self.priority.textChanged.connect(self._validate)
        when = QFormLayout(when_box)
        row = QHBoxLayout()
        row.addWidget(self.when_now)
        row.addWidget(self.when_delay)
        row.addWidget(self.delay)
        when.addRow(row)
        eta_row = QHBoxLayout()
        eta_row.addWidget(self.when_eta)
        eta_row.addWidget(self.eta)
        when.addRow(eta_row)
        when.addRow("Priority", self.priority)

        self.error = QLabel(wordWrap=True)
        self.error.setObjectName("form-error")
        self.error.setStyleSheet("color: #c53030;")
        self.result = QLabel(wordWrap=True)
        self.result.setObjectName("submit-result")
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.submit_button = QPushButton("Submit")
        self.submit_button.setObjectName("submit")
        self.submit_button.setToolTip("Enqueue this call (Ctrl+Enter)")
        self.submit_button.clicked.connect(self.submit)
        self.recent = QComboBox()
        self.recent.setObjectName("recent-submissions")
        self.recent.setToolTip("Fill the form with a recent submission")
        self.recent.activated.connect(self._use_recent)
        self._show_recent()
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.submit)

        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.tasks, 2)
        layout.addWidget(self.about)
        layout.addWidget(self.form_box)
        layout.addWidget(when_box)
        layout.addWidget(self.error)
        layout.addWidget(self.submit_button)
        layout.addWidget(self.result)
        layout.addWidget(self.recent)
        layout.addStretch(1)
        if self.tasks.count():
            self.tasks.setCurrentRow(0)
        else:  # nothing registered (attached with --redis, or a module without tasks)
            self.submit_button.setEnabled(False)
            self.error.setText(
                "No tasks are registered in this window: it attached without the project's "
                "code (--redis), or its module imports none. Attach with --huey "
                "package.module:huey to submit."
            )

    # -- choosing a task ---------------------------------------------------------------
    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tasks.count()):
            item = self.tasks.item(i)
            name = item.data(Qt.ItemDataRole.UserRole).lower()
            item.setHidden(bool(needle) and needle not in name)

    def select_task(self, name: str) -> None:
        info = self.catalogue.get(name)
        for i in range(self.tasks.count()):
            if self.tasks.item(i).data(Qt.ItemDataRole.UserRole) == info.name:
                self.tasks.setCurrentRow(i)
                return

    def _select(self, item: QListWidgetItem | None) -> None:
        self.result.setText("")  # what was said of the last submission is not of this task
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = []
        if item is None:
            self.task = None
            self._validate()
            return
        info = self.catalogue.get(item.data(Qt.ItemDataRole.UserRole))
        self.task = info
        details = [f"<b>{info.short_name}</b>{_escape(signature_text(info.signature))}"]
        if info.summary:
            details.append(_escape(info.summary))
        extras = []
        if info.django_task is not None:  # enqueued through Django's task backend
            extras.append(f"django.tasks, queue {info.django_task.queue_name}")
        if info.retries:
            extras.append(f"retries {info.retries} (every {info.retry_delay:g} s)")
        if info.priority is not None:
            extras.append(f"priority {info.priority}")
        if info.periodic:
            # Huey matches the schedule against UTC unless the instance says otherwise
            utc = getattr(self.catalogue.huey, "utc", True)
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None) if utc else dt.datetime.now()
            upcoming = info.next_runs(now, count=1)
            when = ""
            if upcoming:
                local = upcoming[0].replace(tzinfo=dt.UTC).astimezone() if utc else upcoming[0]
                when = f", next at {local:%H:%M}"
            extras.append(f"runs on schedule {info.schedule}{when}")
        if extras:
            details.append("; ".join(extras))
        self.about.setText("<br>".join(details))
        for param in info.params:
            editor = ParamEditor(param)
            self.editors.append(editor)
            label = param.name
            if param.kind == "VAR_POSITIONAL":
                label = f"*{param.name}"
            elif param.kind == "VAR_KEYWORD":
                label = f"**{param.name}"
            self.form.addRow(label, editor.widget)
            for signal in editor.changed_signals():
                signal.connect(self._validate)
        if not info.params:
            self.form.addRow(QLabel("This task takes no arguments."))
        self._validate()

    # -- validation and submission -----------------------------------------------------
    def collect(self) -> tuple[list, dict, dict]:
        """The call as the user has it now; raises ``UserError`` if it is not valid."""
        if self.task is None:
            raise UserError("Choose a task.")
        args: list = []
        kwargs: dict = {}
        # With *args, the fields before it are positional: binding them by name as well
        # as the *args values by position gives "multiple values for argument".
        star = any(e.param.kind == "VAR_POSITIONAL" for e in self.editors)
        for editor in self.editors:
            p = editor.param
            try:
                value = editor.value()
            except ValueError as exc:
                raise UserError(f"{p.name} {exc}.") from None
            if p.kind == "VAR_POSITIONAL":
                if not isinstance(value, list):
                    raise UserError(f"*{p.name} must be a JSON list.")
                args.extend(value)
            elif p.kind == "VAR_KEYWORD":
                if not isinstance(value, dict):
                    raise UserError(f"**{p.name} must be a JSON object.")
                kwargs.update(value)
            elif p.kind == "POSITIONAL_ONLY" or (star and p.kind == "POSITIONAL_OR_KEYWORD"):
                args.append(value)
            else:
                kwargs[p.name] = value
        when: dict[str, Any] = {}
        if self.when_delay.isChecked():
            when["delay"] = self.delay.value()
        elif self.when_eta.isChecked():
            when["eta"] = self.eta.dateTime().toPython()
        text = self.priority.text().strip()
        if text:
            try:
                when["priority"] = float(text) if "." in text else int(text)
            except ValueError:
                raise UserError("Priority must be a number (higher runs first).") from None
        bind_arguments(self.task, args, kwargs)  # raises UserError with the parameter named
        return args, kwargs, when

    def _validate(self, *_: Any) -> None:
        """Slot for every change in the form (returns nothing: PySide6 slots must not)."""
        self.is_valid()

    def is_valid(self) -> bool:
        """Check the form, show the first problem inline, enable Submit if there is none."""
        try:
            self.collect()
        except UserError as exc:
            self.error.setText(str(exc))
            self.submit_button.setEnabled(False)
            return False
        except Exception as exc:  # a slot must never raise into Qt
            self.error.setText(f"This input cannot be used ({type(exc).__name__}: {exc}).")
            self.submit_button.setEnabled(False)
            return False
        self.error.setText("")
        self.submit_button.setEnabled(True)
        return True

    def submit(self) -> None:
        if self.task is None or not self.is_valid():
            return
        args, kwargs, when = self.collect()
        name, dispatcher, inspector = self.task.name, self.dispatcher, self.inspector

        def submit() -> tuple[str, float | None, bool]:
            estimate = inspector.estimate_start(name) if inspector and not when else None
            live = inspector is None or any(
                w["state"] in ("idle", "busy") for w in inspector.workers()
            )
            return dispatcher.submit(name, args, kwargs, **when), estimate, live

        self.submit_button.setEnabled(False)
        self.result.setText("Submitting…")
        self._remember(name, args, kwargs)
        run_job(submit, self._done, self._failed)

    def _done(self, outcome: tuple[str, float | None, bool]) -> None:
        task_id, estimate, live = outcome
        text = f"Queued as {task_id}"
        starting = self.consumer is not None and self.consumer.state in ("starting", "running")
        if not live and starting:  # its workers have not reported yet
            text += " — the consumer is starting; it should start soon"
        elif not live:
            text += " — no consumer is running: it waits until one starts"
        elif estimate is not None:
            text += (
                " — should start right away"
                if estimate < 1
                else f" — should start in about {seconds(estimate)}"
            )
        self.result.setText(text)
        self._validate()
        self.submitted.emit(task_id)

    # -- recent submissions ------------------------------------------------------------
    def _remember(self, name: str, args: list, kwargs: dict) -> None:
        entry = json.dumps([name, args, kwargs])
        recent = [e for e in self._recent() if e != entry]
        recent.insert(0, entry)
        self.settings.setValue("submit/recent", recent[:RECENT])
        self._show_recent()

    def _recent(self) -> list[str]:
        value = self.settings.value("submit/recent", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in value or [] if isinstance(v, str)]

    def _show_recent(self) -> None:
        self.recent.blockSignals(True)
        self.recent.clear()
        self.recent.addItem("Recent submissions…", None)
        for entry in self._recent():
            try:
                name, args, kwargs = json.loads(entry)
            except (ValueError, TypeError):
                continue
            call = ", ".join(
                [json.dumps(a) for a in args] + [f"{k}={json.dumps(v)}" for k, v in kwargs.items()]
            )
            self.recent.addItem(f"{name.rsplit('.', 1)[-1]}({call})"[:120], entry)
        self.recent.setCurrentIndex(0)
        self.recent.blockSignals(False)

    def _use_recent(self, index: int) -> None:
        entry = self.recent.itemData(index)
        if not entry:
            return
        name, args, kwargs = json.loads(entry)
        try:
            self.prefill(name, args, kwargs)
        except UserError as exc:  # the task is no longer there
            self.error.setText(str(exc))
        self.recent.setCurrentIndex(0)

    def _failed(self, message: str) -> None:
        self.result.setText("")
        self._validate()
        self.error.setText(message)

    def prefill(self, name: str, args: list, kwargs: dict) -> None:
        """Show task ``name`` with the form filled from a call (edit and resubmit)."""
        self.select_task(name)
        values = dict(kwargs)
        positional = list(args)
        for editor in self.editors:
            p = editor.param
            if p.kind == "VAR_POSITIONAL":
                editor.set_value(positional)
                positional = []
            elif p.kind == "VAR_KEYWORD":
                known = {e.param.name for e in self.editors}
                editor.set_value({k: v for k, v in values.items() if k not in known})
            elif positional and p.kind != "KEYWORD_ONLY":
                editor.set_value(positional.pop(0))
            elif p.name in values:
                editor.set_value(values[p.name])
        self._validate()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
