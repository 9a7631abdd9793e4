"""The permission table and its name ↔ bit conversions, held to discord.py and the sandbox."""

from __future__ import annotations

import discord
import pytest
from hypothesis import given
from hypothesis import strategies as st

from discord_io.ops.permissions import (
    ALIASES,
    ALL_PERMISSIONS,
    PERMISSIONS,
    parse_bits,
    parse_permissions,
    permission_bit,
    permission_names,
)
from discord_io.sandbox._permissions import Permission


def test_every_discord_py_flag_parses_to_its_bit() -> None:
    """Each of discord.py's VALID_FLAGS names (aliases too) gives discord.py's bit."""
    for name, bit in discord.Permissions.VALID_FLAGS.items():
        assert permission_bit(name) == bit, name


def test_the_table_is_discord_py_s_bits() -> None:
    """The table has exactly the bits discord.py knows, each under one canonical name."""
    assert set(PERMISSIONS.values()) == set(discord.Permissions.VALID_FLAGS.values())
    assert len(set(PERMISSIONS.values())) == len(PERMISSIONS)
    assert discord.Permissions.all().value == ALL_PERMISSIONS


def test_the_table_is_the_sandbox_s() -> None:
    """Names and bits equal the sandbox's (Discord's documented names, lower case)."""
    assert {(f.name or "").lower(): f.value for f in Permission} == dict(PERMISSIONS)


def test_aliases_point_at_real_names() -> None:
    """Every alias resolves to a canonical name, and none shadows one."""
    assert set(ALIASES.values()) <= set(PERMISSIONS)
    assert not set(ALIASES) & set(PERMISSIONS)


def test_names_are_forgiving_about_case_and_separators() -> None:
    """Upper case, spaces and dashes are accepted: "Send Messages", "VIEW-CHANNEL"."""
    assert parse_permissions(["Send Messages", "VIEW-CHANNEL"]) == (1 << 11) | (1 << 10)


def test_unknown_name_names_the_field_and_suggests() -> None:
    """A misspelt name is refused with the field and the closest real names."""
    with pytest.raises(ValueError, match=r"allow: 'send_mesages' .*did you mean send_messages"):
        parse_permissions(["send_mesages"], "allow")
    with pytest.raises(ValueError, match="deny: 'fly' is not a Discord permission"):
        parse_permissions(["fly"], "deny")


def test_names_of_bits_in_bit_order_with_unknown_bits_kept() -> None:
    """Bits become names in bit order; a bit the table lacks is kept as unknown_bit_<n>."""
    assert permission_names(0) == []
    assert permission_names((1 << 11) | (1 << 10)) == ["view_channel", "send_messages"]
    assert permission_names(1 << 47) == ["unknown_bit_47"]
    with pytest.raises(ValueError, match="negative"):
        permission_names(-1)


def test_parse_bits_reads_discord_s_strings() -> None:
    """Decimal strings and ints pass, None is 0, anything else is refused."""
    assert parse_bits("2048") == 2048
    assert parse_bits(8) == 8
    assert parse_bits(None) == 0
    for bad in ("-1", "1_0", " 1", True, 1.5, -3):
        with pytest.raises(ValueError, match="not a permission bit set"):
            parse_bits(bad)


@given(st.integers(min_value=0, max_value=ALL_PERMISSIONS).map(lambda b: b & ALL_PERMISSIONS))
def test_names_and_bits_round_trip(bits: int) -> None:
    """Any set of known bits → names → the same bits."""
    assert parse_permissions(permission_names(bits)) == bits
