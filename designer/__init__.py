"""layergraph's desktop designer (PySide6 + pyqtgraph); it reads and edits the engine's document."""
from designer.qt_compat import make_singletons_immortal

make_singletons_immortal()
