"""The scene's group gestures (make group, ungroup, expand, collapse) and the frames of expanded groups.

A mixin of ``GraphScene``: like the rest of the scene it only pushes undo commands
(``designer.group_commands``) and follows the document (``frames_changed`` and the node signals).
"""
from __future__ import annotations

from PySide6.QtCore import QPointF

from designer import group_commands as gcmds
from designer.canvas.group_frame import GroupFrameItem


class GroupGestures:
    """Needs the scene's ``doc``, ``graph``, ``_nodes``, ``push``, ``select_nodes``, ``reveal_nodes``."""

    # ----- frames of groups expanded in place ----------------------------------------------------------
    def _sync_frames(self) -> None:
        """One frame item per ``doc.group_frames`` entry, fitted around its layers."""
        frames = self.doc.group_frames
        for key in [k for k in self._frames if k not in frames]:
            self.removeItem(self._frames.pop(key))
        for key, frame in frames.items():
            if key not in self._frames:
                self._frames[key] = GroupFrameItem(key, frame.name)
                self.addItem(self._frames[key])
            self._fit_frame(key)

    def _fit_frame(self, key: str) -> None:
        frame = self.doc.group_frames[key]
        cards = [self._nodes[m].sceneBoundingRect().adjusted(10, 14, -10, -10)
                 for m in frame.members if m in self._nodes]
        self._frames[key].refit(cards)

    def _refit_frames(self, nid: str) -> None:
        for key, frame in self.doc.group_frames.items():
            if nid in frame.members and key in self._frames:
                self._fit_frame(key)

    def frame_items(self) -> list[GroupFrameItem]:
        return list(self._frames.values())

    def frame_item(self, key: str) -> GroupFrameItem | None:
        return self._frames.get(key)

    # ----- groups ---------------------------------------------------------------------------------------
    def make_group(self) -> str | None:
        """Ctrl+G: the selected layers become one group node (selected afterwards)."""
        command = gcmds.MakeGroupCommand(self.doc, self.selected_node_ids())
        why = self.push(command)
        if not why:
            self.select_nodes([command.group_id])
        return why

    def selected_group(self) -> str | None:
        groups = [n for n in self.selected_node_ids() if self.graph.node(n).class_name == "Group"]
        return groups[0] if len(groups) == 1 else None

    def ungroup(self, group_id: str | None = None) -> str | None:
        """Ctrl+Shift+G: the selected group's layers replace it (selected afterwards)."""
        gid = group_id or self.selected_group()
        if gid is None:
            why = "select one group node to ungroup"
            self.status_message.emit(why)
            return why
        command = gcmds.UngroupCommand(self.doc, gid)
        why = self.push(command)
        if not why:
            self.select_nodes(command.node_ids)
        return why

    def expand_group(self, group_id: str) -> str | None:
        """The group's layers replace its card in a frame, laid out by ``engine.layout``."""
        if group_id not in self.graph or self.graph.node(group_id).class_name != "Group":
            return None
        command = gcmds.ExpandGroupCommand(self.doc, group_id)
        why = self.push(command)
        if not why:
            self.reveal_nodes(command.ungroup.node_ids)
        return why

    def collapse_frame(self, key: str) -> str | None:
        command = gcmds.CollapseGroupCommand(self.doc, key)
        why = self.push(command)
        if not why:
            self.select_nodes([command.group_id])
        return why

    def frame_at(self, scene_pos: QPointF) -> str | None:
        for key, item in self._frames.items():
            if item.boundingRect().contains(scene_pos):
                return key
        return None
