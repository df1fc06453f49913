"""The universe file: which symbols each market keeps complete (no Dagster here).

    markets:
      us_equities:
        - {symbol: AAPL, asset_class: stock}
        - {symbol: GE, asset_class: stock, active: false}
      crypto:
        - {symbol: BTC-USD, asset_class: crypto}

`symbol` and `asset_class` are required (the classes a market allows: markets.py), `active`
defaults to true. Symbols are upper-cased like the CLI does. A market the file does not
name is left alone. Every problem is reported with its line, and a file with any problem
is rejected whole, so a typo can never drop symbols.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from backfill_pipeline.markets import MARKETS, InvalidSymbolError, validate_symbol

_FIELDS = ("symbol", "asset_class", "active")


@dataclass(frozen=True)
class UniverseEntry:
    symbol: str
    asset_class: str
    active: bool
    line: int


class UniverseFileError(ValueError):
    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = path, problems
        super().__init__(f"universe file {path} rejected, nothing changed:\n" + "\n".join(problems))


def load(path: Path) -> dict[str, list[UniverseEntry]]:
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise UniverseFileError(path, [f"{path}: not a text (UTF-8) file"]) from None
    return parse(text, path)


def parse(text: str, path: Path) -> dict[str, list[UniverseEntry]]:
    """Market -> entries in file order; raises UniverseFileError listing every problem."""
    problems: list[str] = []

    def problem(node: yaml.Node | None, message: str) -> None:
        where = f" line {node.start_mark.line + 1}" if node is not None else ""
        problems.append(f"{path}{where}: {message}")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or exc
        raise UniverseFileError(path, [f"{path}{where}: not valid YAML: {reason}"]) from None
    markets_node = None
    if not isinstance(root, yaml.MappingNode):
        problem(root, "expected a mapping with the key 'markets'")
    else:
        for key, value in root.value:
            if key.value == "markets":
                markets_node = value
            else:
                problem(key, f"unknown key {key.value!r} (expected 'markets')")
        if markets_node is None:
            problem(root, "missing the key 'markets'")
    universe: dict[str, list[UniverseEntry]] = {}
    if markets_node is not None and not isinstance(markets_node, yaml.MappingNode):
        problem(markets_node, "'markets' must map market names to lists of symbols")
    elif markets_node is not None:
        for key, value in markets_node.value:
            if key.value not in MARKETS:
                problem(key, f"unknown market {key.value!r}; known markets: {', '.join(MARKETS)}")
            elif key.value in universe:
                problem(key, f"market {key.value} is listed twice")
            else:
                universe[key.value] = _entries(key.value, value, problem)
    if problems:
        raise UniverseFileError(path, problems)
    return universe


def _entries(market: str, node: yaml.Node, problem: Callable[[yaml.Node | None, str], None]) -> list[UniverseEntry]:
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return []  # `crypto:` with nothing under it: no symbols
    if not isinstance(node, yaml.SequenceNode):
        problem(node, f"{market}: expected a list of {{symbol, asset_class, active}} entries")
        return []
    allowed = MARKETS[market].asset_classes
    entries: list[UniverseEntry] = []
    first_line: dict[str, int] = {}
    for item in node.value:
        if not isinstance(item, yaml.MappingNode):
            problem(item, f"{market}: each entry must be a mapping like {{symbol: AAPL, asset_class: stock}}")
            continue
        fields = {}
        for key, value in item.value:
            if key.value not in _FIELDS:
                problem(key, f"{market}: unknown field {key.value!r} (fields: {', '.join(_FIELDS)})")
            elif not isinstance(value, yaml.ScalarNode):
                problem(value, f"{market}: field {key.value!r} must be a single value")
            else:
                fields[key.value] = value
        line = item.start_mark.line + 1
        symbol_node, class_node, active_node = (fields.get(f) for f in _FIELDS)
        if symbol_node is None:
            problem(item, f"{market}: missing field 'symbol'")
            continue
        symbol = symbol_node.value.strip().upper()
        try:
            validate_symbol(symbol)
        except InvalidSymbolError as exc:
            problem(symbol_node, f"{market}: field 'symbol': {exc}")
            continue
        if class_node is None:
            problem(item, f"{market} {symbol}: missing field 'asset_class' (one of {', '.join(allowed)})")
            continue
        if class_node.value not in allowed:
            problem(class_node, f"{market} {symbol}: field 'asset_class': {class_node.value!r} is not one of "
                                f"{', '.join(allowed)}")
            continue
        active = True
        if active_node is not None:
            if not active_node.tag.endswith(":bool"):
                problem(active_node,
                        f"{market} {symbol}: field 'active' must be true or false, not {active_node.value!r}")
                continue
            active = active_node.value.lower() in ("true", "yes", "on")
        if symbol in first_line:
            problem(symbol_node, f"{market}: symbol {symbol} is listed twice (first on line {first_line[symbol]})")
            continue
        first_line[symbol] = line
        entries.append(UniverseEntry(symbol, class_node.value, active, line))
    return entries
