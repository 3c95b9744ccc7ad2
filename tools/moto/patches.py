"""Patches to moto that restore real AWS behaviour. Each names what it restores."""


def apply_all() -> None:
    pass
