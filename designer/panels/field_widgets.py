"""Editors for layer config fields, chosen by ``Field.kind`` from one factory table.

There is no per-layer widget code: the inspector asks ``make_field_widget(field)`` for each declared
field.  Every editor has ``value()`` (raises ``ValueError`` with a readable reason for text it cannot
parse), ``set_value(v)`` (silent: no ``edited`` signal) and an ``edited`` signal fired once per
committed user edit (Enter, focus out, a click, a combo choice), never per keystroke.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLineEdit, QSpinBox,
                               QWidget)

from engine.activations import ACTIVATIONS
from engine.initializers import INITIALIZERS
from engine.errors import ConfigError
from engine.layers import LAYERS, nested_layer_class, starter_config
from engine.layers.base import Field

INT_LIMIT = 2**31 - 1
NONE_TEXT = "None"
SPIN_MIN_WIDTH = 56  # a spin box would otherwise ask for room for "-2147483647"


class FieldWidget(QWidget):
    """Base editor: a horizontal row holding the actual input widget(s)."""

    edited = Signal()

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(4)
        self.setToolTip(field.doc)

    def value(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def set_value(self, value: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def set_invalid(self, invalid: bool) -> None:
        """Mark the editor red (the stylesheet keys on the ``invalid`` property)."""
        for w in self.findChildren(QWidget):
            w.setProperty("invalid", invalid)
            w.style().unpolish(w)
            w.style().polish(w)

    def _silently(self, fn: Callable[[], None]) -> None:
        blocked = self.blockSignals(True)
        kids = [(w, w.blockSignals(True)) for w in self.findChildren(QWidget)]
        try:
            fn()
        finally:
            for w, b in kids:
                w.blockSignals(b)
            self.blockSignals(blocked)


def shrinkable(combo: QComboBox) -> None:
    """Let a combo get narrower than its longest item, so a narrow inspector dock never clips."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)


def find_data(combo: QComboBox, value: Any) -> int:
    """``QComboBox.findData`` that also finds ``None`` and compares Python values."""
    for i in range(combo.count()):
        if combo.itemData(i) == value:
            return i
    return -1


def _range(field: Field, lo_default: float, hi_default: float) -> tuple[float, float]:
    lo = field.min if field.min is not None else lo_default
    hi = field.max if field.max is not None else hi_default
    return lo, hi


class IntWidget(FieldWidget):
    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.spin = QSpinBox()
        self.spin.setMinimumWidth(SPIN_MIN_WIDTH)
        lo, hi = _range(field, -INT_LIMIT, INT_LIMIT)
        self.spin.setRange(int(lo), int(min(hi, INT_LIMIT)))
        self.spin.setKeyboardTracking(False)
        self.spin.setAccelerated(True)
        self.spin.setToolTip(field.doc)
        self.spin.valueChanged.connect(lambda _v: self.edited.emit())
        self.row.addWidget(self.spin)

    def value(self) -> int:
        self.spin.interpretText()
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self._silently(lambda: self.spin.setValue(int(value)))


class _FloatSpin(QDoubleSpinBox):
    """Shows ``0.001`` rather than ``0.0010000000``."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        text = f"{value:.{self.decimals()}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text


class FloatWidget(FieldWidget):
    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.spin = _FloatSpin()
        self.spin.setMinimumWidth(SPIN_MIN_WIDTH)
        self.spin.setDecimals(8)
        lo, hi = _range(field, -1e9, 1e9)
        self.spin.setRange(lo, hi)
        self.spin.setSingleStep(0.1 if hi - lo > 1 else 0.01)
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip(field.doc)
        self.spin.valueChanged.connect(lambda _v: self.edited.emit())
        self.row.addWidget(self.spin)

    def value(self) -> float:
        self.spin.interpretText()
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self._silently(lambda: self.spin.setValue(float(value)))


class BoolWidget(FieldWidget):
    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.check = QCheckBox()
        self.check.setToolTip(field.doc)
        self.check.toggled.connect(lambda _v: self.edited.emit())
        self.row.addWidget(self.check)
        self.row.addStretch(1)

    def value(self) -> bool:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        self._silently(lambda: self.check.setChecked(bool(value)))


class ComboWidget(FieldWidget):
    """A fixed list of values; optional fields get a leading "None"."""

    def __init__(self, field: Field, options: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.combo = QComboBox()
        self.combo.setToolTip(field.doc)
        shrinkable(self.combo)
        if field.optional and None not in options:
            options = [None, *options]
        for opt in options:
            self.combo.addItem(NONE_TEXT if opt is None else str(opt), opt)
        self.combo.activated.connect(lambda _i: self.edited.emit())
        self.row.addWidget(self.combo, 1)

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        def do() -> None:
            i = find_data(self.combo, value)
            if i < 0:  # a value outside the table (kept from a file): show it rather than lose it
                self.combo.addItem(str(value), value)
                i = self.combo.count() - 1
            self.combo.setCurrentIndex(i)
        self._silently(do)


class TextWidget(FieldWidget):
    """A line edit with a parser; used for tuples, shapes, text and optional numbers."""

    def __init__(self, field: Field, parse: Callable[[str], Any], show: Callable[[Any], str],
                 placeholder: str = "", read_only: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self._parse, self._show = parse, show
        self.edit = QLineEdit()
        self.edit.setToolTip(field.doc)
        self.edit.setPlaceholderText(placeholder)
        self.edit.setReadOnly(read_only)
        self._last = ""
        self.edit.editingFinished.connect(self._finished)
        self.row.addWidget(self.edit, 1)

    def _finished(self) -> None:
        if self.edit.text() != self._last:  # focus-out without a change is not an edit
            self._last = self.edit.text()
            self.edited.emit()

    def value(self) -> Any:
        return self._parse(self.edit.text())

    def set_value(self, value: Any) -> None:
        text = self._show(value)
        self._last = text
        self._silently(lambda: self.edit.setText(text))


class IntsWidget(FieldWidget):
    """A fixed-length tuple of ints as a row of spin boxes (``kernel_size``, ``strides``...)."""

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        lo, hi = _range(field, -INT_LIMIT, INT_LIMIT)
        self.spins: list[QSpinBox] = []
        for _ in range(field.length or 1):
            s = QSpinBox()
            s.setMinimumWidth(SPIN_MIN_WIDTH)
            s.setRange(int(lo), int(min(hi, INT_LIMIT)))
            s.setKeyboardTracking(False)
            s.setToolTip(field.doc)
            s.valueChanged.connect(lambda _v: self.edited.emit())
            self.spins.append(s)
            self.row.addWidget(s, 1)

    def value(self) -> tuple[int, ...]:
        for s in self.spins:
            s.interpretText()
        return tuple(s.value() for s in self.spins)

    def set_value(self, value: Any) -> None:
        vals = [value] * len(self.spins) if isinstance(value, int) else list(value)

        def do() -> None:
            for s, v in zip(self.spins, vals):
                s.setValue(int(v))
        self._silently(do)


class NestedLayerWidget(FieldWidget):
    """A wrapped layer (``Bidirectional(layer=...)``, ``TimeDistributed(layer=...)``, ``RNN(cell=...)``): its class
    and its size argument (``units``, ``filters``...); the field's ``choices`` list the classes it may wrap."""

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self._config: dict[str, Any] = {}
        self._class: str | None = None
        self.combo = QComboBox()
        self.combo.setToolTip(field.doc)
        shrinkable(self.combo)
        if field.optional or field.default is None:
            self.combo.addItem(NONE_TEXT, None)
        names = field.choices or [name for name, cls in LAYERS.items()
                                  if cls.family == "recurrent" and any(f.name == "units" for f in cls.all_fields())]
        for name in names:
            self.combo.addItem(name, name)
        self.units = QSpinBox()
        self.units.setMinimumWidth(SPIN_MIN_WIDTH)
        self.units.setRange(1, 1_000_000)
        self.units.setKeyboardTracking(False)
        self.units.setToolTip("units of the wrapped layer")
        self.combo.activated.connect(self._kind_chosen)
        self.units.valueChanged.connect(lambda _v: self.edited.emit())
        self.row.addWidget(self.combo, 1)
        self.row.addWidget(self.units)

    @staticmethod
    def _size_field(class_name: str | None) -> str | None:
        """The wrapped class's first required integer argument (``units``, ``filters``), edited by the spin box."""
        if class_name is None:
            return None
        try:
            fields = nested_layer_class(class_name).all_fields()
        except ConfigError:
            return None
        return next((f.name for f in fields if f.required and f.kind == "int"), None)

    def _show_size(self) -> None:
        key = self._size_field(self._class)
        self.units.setEnabled(key is not None)
        self.units.setToolTip(f"{key} of the wrapped layer" if key else "the wrapped layer has no size argument")
        if key:
            self.units.setValue(int(self._config.get(key, 1)))

    def _kind_chosen(self, _index: int) -> None:
        name = self.combo.currentData()
        if name != self._class:         # another class: start from its starter arguments, not the old ones
            self._class = name
            self._config = starter_config(name) if name else {}
            self._silently(self._show_size)
        self.edited.emit()

    def value(self) -> dict[str, Any] | None:
        if self.combo.currentData() is None:
            return None
        self.units.interpretText()
        cfg = dict(self._config)
        key = self._size_field(self.combo.currentData())
        if key:
            cfg[key] = self.units.value()
        return {"class_name": self.combo.currentData(), "config": cfg}

    def set_value(self, value: Any) -> None:
        value = value or {"class_name": None}
        self._config = dict(value.get("config") or {})
        self._class = value.get("class_name")

        def do() -> None:
            i = find_data(self.combo, self._class)
            if i < 0 and self._class:
                self.combo.addItem(self._class, self._class)
                i = self.combo.count() - 1
            self.combo.setCurrentIndex(max(i, 0))
            self._show_size()
        self._silently(do)


# ----- parsers for the text editors ------------------------------------------------------------------
def _split(text: str) -> list[str]:
    text = text.strip().strip("()[]")
    return [p.strip() for p in text.split(",") if p.strip()]


def parse_ints(text: str, allow_unknown: bool = False) -> tuple:
    out: list[int | None] = []
    for part in _split(text):
        if allow_unknown and part.lower() in ("none", "?"):
            out.append(None)
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise ValueError(f"'{part}' is not a whole number; write numbers separated by commas, "
                             "e.g. 28, 28, 1.") from None
    return tuple(out)


def parse_floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(p) for p in _split(text))
    except ValueError:
        raise ValueError("write numbers separated by commas, e.g. 0.5, 1.0.") from None


def show_tuple(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join("None" if v is None else str(v) for v in value)
    return str(value)


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def inner(text: str) -> Any:
        return None if text.strip() in ("", NONE_TEXT, "none") else parse(text)
    return inner


def _number(cast: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def inner(text: str) -> Any:
        try:
            return cast(text.strip())
        except ValueError:
            raise ValueError(f"'{text.strip()}' is not {what}.") from None
    return inner


def _json_show(value: Any) -> str:
    return "" if value is None else json.dumps(value)


def _json_parse(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg}).") from None


# ----- the factory table -----------------------------------------------------------------------------
def _int(f: Field) -> FieldWidget:
    if f.optional:
        return TextWidget(f, _optional(_number(int, "a whole number")), lambda v: "" if v is None else str(v),
                          NONE_TEXT)
    return IntWidget(f)


def _float(f: Field) -> FieldWidget:
    if f.optional:
        return TextWidget(f, _optional(_number(float, "a number")), lambda v: "" if v is None else f"{v:g}",
                          NONE_TEXT)
    return FloatWidget(f)


def _ints(f: Field) -> FieldWidget:
    if f.optional:  # e.g. pooling strides: empty means None (= pool_size)
        return TextWidget(f, _optional(parse_ints), show_tuple, NONE_TEXT)
    if f.length:
        return IntsWidget(f)
    return TextWidget(f, parse_ints, show_tuple, "e.g. 3, 3")


def _shape(f: Field) -> FieldWidget:
    def parse(text: str) -> tuple:
        return parse_ints(text, f.allow_unknown)

    if f.optional:
        return TextWidget(f, _optional(parse), show_tuple, NONE_TEXT)
    return TextWidget(f, parse, show_tuple, "e.g. 28, 28, 1")


FACTORIES: dict[str, Callable[[Field], FieldWidget]] = {
    "int": _int,
    "float": _float,
    "bool": BoolWidget,
    "choice": lambda f: ComboWidget(f, list(f.choices)),
    "activation": lambda f: ComboWidget(f, list(ACTIVATIONS)),
    "initializer": lambda f: ComboWidget(f, list(INITIALIZERS)),
    "ints": _ints,
    "shape": _shape,
    "floats": lambda f: TextWidget(f, _optional(parse_floats) if f.optional else parse_floats, show_tuple,
                                   "e.g. 0.5, 1.0"),
    "str": lambda f: TextWidget(f, (_optional(str) if f.optional else str), lambda v: "" if v is None else str(v)),
    "json": lambda f: TextWidget(f, _json_parse, _json_show, NONE_TEXT, read_only=True),
    "layer": NestedLayerWidget,
}


def make_field_widget(field: Field) -> FieldWidget:
    """The editor for ``field``; an unknown kind falls back to a read-only JSON line."""
    factory = FACTORIES.get(field.kind) or FACTORIES["json"]
    return factory(field)
