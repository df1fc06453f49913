"""Parsing of CLI arguments shared by commands; each error names what was wrong."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click

from backfill_pipeline.markets import InvalidSymbolError, Market, UnknownMarketError, get_market, validate_symbol
from backfill_pipeline.settings import Settings, SettingsError
from backfill_pipeline.timeframes import UnknownTimeframeError, get_timeframe


def load_settings() -> Settings:
    """Settings from the environment; a bad value is a usage error naming the variable."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def split_list(values: tuple[str, ...] | list[str]) -> list[str]:
    """Accept both `A B C` and `A,B,C`."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def market_option(value: str, settings: Settings | None = None) -> Market:
    """The market named `value`; as configured (hours option applied) when `settings` is given."""
    try:
        return settings.market(value) if settings is not None else get_market(value)
    except UnknownMarketError as exc:
        raise click.BadParameter(str(exc), param_hint="--market") from None


def symbols_arg(values: tuple[str, ...] | list[str]) -> list[str]:
    """Upper-cased, validated symbols; an empty argument (`""`) is an error, not nothing."""
    if any(not value.strip(" ,") for value in values) or not split_list(values):
        raise click.BadParameter("an empty symbol was given; name at least one symbol, e.g. AAPL",
                                 param_hint="SYMBOLS")
    symbols = [s.upper() for s in split_list(values)]
    try:
        return [validate_symbol(s) for s in symbols]
    except InvalidSymbolError as exc:
        raise click.BadParameter(str(exc), param_hint="SYMBOLS") from None


def timeframes_option(values: tuple[str, ...] | list[str]) -> list[str]:
    names = split_list(values)
    try:
        return [get_timeframe(n).name for n in names]
    except UnknownTimeframeError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeframes") from None


def date_option(value: str | None, hint: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=hint) from None


def output_file(path: Path, hint: str) -> Path:
    """`path` if a file can be written there, checked before any work: its directory
    exists and is writable, and the path is not a directory."""
    folder = path.expanduser().absolute().parent
    if not folder.is_dir():
        raise click.BadParameter(f"the directory {folder} does not exist; create it first (nothing was written)",
                                 param_hint=hint)
    if path.is_dir():
        raise click.BadParameter(f"{path} is a directory, not a file", param_hint=hint)
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"the directory {folder} is not writable", param_hint=hint)
    return path
