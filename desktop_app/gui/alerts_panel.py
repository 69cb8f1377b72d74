"""The alerts panel: alerts that fired and cleared, newest first, and the rules' dialog."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.alerts import RULE_LABELS, Rules, rules_path
from desktop_app.gui.models import Column, RowModel, clock
from desktop_app.gui.panel import table

FIRING, CLEARED = "firing", "cleared"


class AlertsModel(RowModel):
    """Alerts as rows: on or cleared, the rule, what it said, when it fired and cleared."""

    key = "key"
    columns = (
        Column("State", lambda r: r.get("state")),
        Column("Rule", lambda r: RULE_LABELS.get(r["rule"], r["rule"])),
        Column("Fired", lambda r: clock(r.get("fired_at")), lambda r: r.get("fired_at") or 0),
        Column(
            "Cleared", lambda r: clock(r.get("cleared_at")), lambda r: r.get("cleared_at") or 0
        ),
        Column("What", lambda r: r.get("message")),
    )

    def apply(self, update: dict[str, Any]) -> None:
        """Fold in the monitor's news: alerts that fired or cleared, and those still on."""
        rows: dict[tuple, dict] = {}  # one row per alert: the newest word on it wins
        for a in [*update["changes"], *update["active"]]:
            key = (a["rule"], a["fired_at"])
            rows[key] = a | {"key": key, "state": CLEARED if a["cleared_at"] else FIRING}
        self.upsert(sorted(rows.values(), key=lambda a: a["fired_at"]))

    def firing(self) -> int:
        return sum(1 for r in self._rows if r["state"] == FIRING)


class AlertsPanel(QWidget):
    """The alerts table, a line saying which rules are on, and a button to change them."""

    rules_requested = Signal()
    count_changed = Signal(int)  # alerts on now, for the tab's title

    def __init__(self) -> None:
        super().__init__()
        self.model = AlertsModel(self, limit=500)
        self.view = table(self.model, "alerts-view", (60, 120, 70, 70, 300))
        self.summary = QLabel()
        self.summary.setObjectName("alerts-summary")
        self.summary.setWordWrap(True)
        edit = QPushButton("Rules…")
        edit.setObjectName("alert-rules")
        edit.setToolTip("Choose what to be told about (View → Alerts…)")
        edit.clicked.connect(self.rules_requested.emit)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.summary, 1)
        top.addWidget(edit)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

    def show_rules(self, rules: Rules) -> None:
        on = [label for label, enabled in _switches(rules) if enabled]
        self.summary.setText(
            "Watching: " + (", ".join(on) if on else "nothing (every rule is off)") + "."
        )

    def apply(self, update: dict[str, Any]) -> None:
        self.model.apply(update)
        self.count_changed.emit(self.model.firing())


def _switches(rules: Rules) -> list[tuple[str, bool]]:
    return [
        (RULE_LABELS["oldest-pending"].lower(), rules.oldest_pending_on),
        (RULE_LABELS["deeper"].lower(), rules.deeper_on),
        (RULE_LABELS["growing"].lower(), rules.growing_on),
        (RULE_LABELS["failures"].lower(), rules.failures_on),
        (RULE_LABELS["failure-rate"].lower(), rules.failure_rate_on),
        (RULE_LABELS["heartbeats"].lower(), rules.heartbeats_on),
        (RULE_LABELS["long-running"].lower(), rules.long_running_on),
    ]


class AlertRulesDialog(QDialog):
    """View → Alerts…: each rule with its switch and thresholds; kept in alerts.json,
    which ``huey-desk watch`` reads too."""

    def __init__(self, rules: Rules, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Alerts")
        self.setObjectName("alerts-dialog")
        form = QFormLayout()
        self.fields: dict[str, Any] = {}

        def switch(name: str, text: str, *inputs: tuple[str, QWidget, str]) -> None:
            box = QCheckBox(text)
            box.setObjectName(f"rule-{name}")
            box.setChecked(getattr(rules, name))
            self.fields[name] = box
            row = QHBoxLayout()
            row.addWidget(box, 1)
            for field, widget, suffix in inputs:
                widget.setObjectName(f"rule-{field}")
                self.fields[field] = widget
                widget.setValue(getattr(rules, field))
                if suffix:
                    widget.setSuffix(suffix)
                widget.setEnabled(box.isChecked())
                box.toggled.connect(widget.setEnabled)
                row.addWidget(widget)
            form.addRow(row)

        switch(
            "oldest_pending_on",
            "The oldest pending task has waited longer than",
            ("oldest_pending_s", _seconds(1, 7 * 86400), " s"),
        )
        switch(
            "deeper_on", "The queue is deeper than", ("deeper_than", _count(1, 10**9), " tasks")
        )
        switch(
            "growing_on",
            "The queue has grown for",
            ("growing_minutes", _count(1, 1440), " minutes in a row"),
        )
        switch(
            "failures_on",
            "More than",
            ("failures_n", _count(0, 10**6), " failures"),
            ("failures_minutes", _seconds(1, 1440, prefix="in the last "), " min"),
        )
        switch(
            "failure_rate_on", "Failure rate over", ("failure_rate_pct", _seconds(0, 100), " %")
        )
        switch("heartbeats_on", "A consumer or worker stopped sending heartbeats (any host)")
        switch(
            "long_running_on",
            "A task runs longer than",
            ("long_running_factor", _seconds(1, 1000), " times its usual time"),
        )
        where = QLabel(f"Kept in {rules_path()}; huey-desk watch uses the same rules.")
        where.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        restore = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(lambda: self.set_rules(Rules()))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(where)
        layout.addWidget(buttons)

    def set_rules(self, rules: Rules) -> None:
        for name, widget in self.fields.items():
            value = getattr(rules, name)
            if isinstance(widget, QCheckBox):
                widget.setChecked(value)
            else:
                widget.setValue(value)

    def rules(self) -> Rules:
        """The rules as the dialog shows them."""
        values = {}
        for name, widget in self.fields.items():
            values[name] = widget.isChecked() if isinstance(widget, QCheckBox) else widget.value()
        return Rules.from_dict(values)


def _count(low: int, high: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setGroupSeparatorShown(True)
    return box


def _seconds(low: float, high: float, prefix: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setPrefix(prefix)
    box.setRange(low, high)
    box.setDecimals(1)
    return box
