"""YAML as sources.yaml is read: PyYAML's safe loader, but a key given twice in one mapping is a problem.

PyYAML keeps the last value of a repeated key silently; a user who wrote `enabled: true` and later
`enabled: false` in one entry would never know which one holds.
"""

from __future__ import annotations

from typing import Any

import yaml


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that records every key given twice in one mapping (with both lines): `duplicates`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.found: list[tuple[int, str]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if isinstance(key, str) and key in seen:
                message = f"line {line}: key '{key}' given twice in one mapping (first on line {seen[key]})"
                self.found.append((line, message))
            elif isinstance(key, str):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    @property
    def duplicates(self) -> list[str]:
        """The keys given twice, in the file's order."""
        return [message for _, message in sorted(self.found)]
