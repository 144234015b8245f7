"""Profile segments into personas: statistics against the whole base, names and persona cards."""

from segmint.profile.naming import name_segments
from segmint.profile.personas import Persona, personas
from segmint.profile.profiles import KPIS, Profile, profile

__all__ = ["KPIS", "Persona", "Profile", "name_segments", "personas", "profile"]
