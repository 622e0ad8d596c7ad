"""Who is acting: :class:`Actor` lives in the platform (:mod:`dcops.actor`); this name stays for importers."""

from dcops.actor import SYSTEM, Actor

__all__ = ["SYSTEM", "Actor"]
