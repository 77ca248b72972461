"""NTRIP caster: protocol, live mount descriptions, sourcetable, fan-out."""
