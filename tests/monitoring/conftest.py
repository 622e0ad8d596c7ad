"""Monitoring fixtures: real SNMP agents on free loopback ports, stopped after the test.

- ``snmpd_agent(**options) -> Agent``: a net-snmp snmpd (community ``public``, the v3 users of
  ``agents.DEFAULT_USERS``, values the test controls with ``agent.set_value(oid, type, value)``);
  options are those of ``agents.start_snmpd`` (communities=(), users=..., values={...}, sys_descr=...).
- ``snmpd``: one default snmpd shared by the tests of a module (do not set values on it).
- ``snmpsim_agent(data_dir, **options) -> Agent``: snmpsim serving the ``.snmprec`` files of data_dir.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.monitoring.agents import Agent, start_snmpd, start_snmpsim

_counter = itertools.count()


@pytest.fixture
def snmpd_agent(tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    """Return a factory that starts net-snmp snmpd agents; all are stopped after the test."""
    started: list[Agent] = []

    def start(**options) -> Agent:
        agent = start_snmpd(tmp_path / f"snmpd-{next(_counter)}", **options)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """Return one default snmpd agent shared by a test module."""
    agent = start_snmpd(tmp_path_factory.mktemp("snmpd"))
    yield agent
    agent.stop()


@pytest.fixture
def snmpsim_agent(tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    """Return a factory that starts snmpsim on a directory of .snmprec files; all are stopped after the test."""
    started: list[Agent] = []

    def start(data_dir: Path | str, **options) -> Agent:
        agent = start_snmpsim(Path(data_dir), tmp_path / f"snmpsim-{next(_counter)}", **options)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()
