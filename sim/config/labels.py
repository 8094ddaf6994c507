"""What a run is called: its policy's name plus the overrides that change the policy or the
parameters (a what-if), e.g. ``baseline + financing.intensity=2``.

One rule (:func:`changes`) picks those overrides; every place a run is named uses it:

- :func:`label` -- the printed header, ``summary.json``'s ``policy_label``, chart titles of a what-if;
- :func:`title` -- chart titles: the policy's own descriptive label when nothing changed it;
- :func:`dirname` -- the filesystem-safe form in the default run folder,
  ``results/<scenario>/baseline+financing.intensity=2/<timestamp>`` (``configs/config.yaml``
  calls it through the ``what_if`` resolver on Hydra's task overrides, so the folder is named
  when Hydra resolves ``hydra.run.dir``, before anything is written).

A what-if is what the command line asked for, as typed: ``policy.<lever>.<key>=v`` (shown
without ``policy.``), ``params...=v``, ``criteria=<name>`` and ``criteria...=v``; a lever
removed (``~policy.talent``) is shown as ``~talent``.  Everything else (scenario, seed,
replicates, executor, ``hydra.*``, ...) does not change the policy or the parameters and is
not part of the label.  An override that sets a key to the value it already had still
counts: the label says what was asked, the config (``summary.json``) what resulted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from omegaconf import OmegaConf

SEP = " + "
WHAT_IF = ("policy", "params", "criteria")  # the overrides that make a what-if: policy, parameters, recognition criteria
IDENTITY = ("policy.name", "policy.label")  # name the policy, do not change it
MAX_DIRNAME = 120  # bytes; longer what-ifs get a hash tail (file names stop at 255)
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+~@-]+")


def changes(overrides: Iterable[str]) -> list[str]:
    """The overrides that change the policy or the parameters, as ``key=value`` (``policy.``
    dropped), in the order given; a key given twice counts once, with its last value and in
    its last place (the last one is what Hydra applies)."""
    out: dict[str, str] = {}
    for ov in overrides:
        ov = str(ov).strip()
        removed = ov.startswith("~")
        key, _, value = ov.lstrip("+~").partition("=")
        if key in IDENTITY or key.split(".")[0] not in WHAT_IF or key == "policy":  # policy=<name> is the name itself
            continue
        short = key.removeprefix("policy.")
        out.pop(short, None)
        out[short] = f"~{short}" if removed else f"{short}={value}"
    return list(out.values())


def label(policy_name: str, overrides: Iterable[str] = ()) -> str:
    """``'baseline'``, ``'baseline + financing.intensity=2'``, ``'baseline + financing.intensity=2 + params.growth.drift=0.05'``."""
    return SEP.join([policy_name, *changes(overrides)])


def title(policy_name: str, policy_label: str, overrides: Iterable[str] = ()) -> str:
    """The policy's own descriptive label (``Levers as announced (2021)``) when no override
    changed it -- it describes the file exactly; otherwise :func:`label`: the descriptive
    label no longer holds once a key is changed."""
    return label(policy_name, overrides) if changes(overrides) else (policy_label or policy_name)


def dirname(policy_name: str, overrides: Iterable[str] = ()) -> str:
    """:func:`label` as one safe folder name: ``baseline+financing.intensity=2`` (no spaces,
    no ``/``; a long one cut, with a hash of the whole label, so two what-ifs never share
    a name)."""
    full = label(policy_name, overrides)
    safe = _UNSAFE.sub("_", full.replace(SEP, "+"))
    if len(safe.encode()) > MAX_DIRNAME:
        safe = f"{safe[: MAX_DIRNAME - 17]}~{hashlib.sha256(full.encode()).hexdigest()[:16]}"
    return safe


def _what_if(policy_name: str, overrides: object) -> str:
    """``${what_if:${policy.name},${..overrides.task}}`` in ``hydra.run.dir`` (relative: the ``hydra`` node may be detached from the job config when it is resolved)."""
    items = OmegaConf.to_container(overrides) if OmegaConf.is_config(overrides) else overrides
    return dirname(str(policy_name), items or [])  # type: ignore[arg-type]


OmegaConf.register_new_resolver("what_if", _what_if, replace=True)
