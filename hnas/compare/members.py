"""What ``hnas compare`` compares: members named on the command line, resolved to genotypes.

A member is a run folder (its searched ``genotype.json``), a preset (``hnas-a``, the hand-designed
``baseline-*``), a genotype file, ``random:K`` (K architectures drawn uniformly from a search
space: the paper's Random baseline) or ``random:K@REF`` (K drawn uniformly *among architectures
within 15 % of member REF's MACs*: the control that separates what a search found from what its
cost alone buys). A baseline takes its depth (``baseline-plain:layers=9``) or is sized to a member's
MACs (``baseline-plain@REF``: the depth that comes closest). Random draws are a pure function of the comparison's seed, so a resumed or
repeated comparison trains the same architectures.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hnas.controllers.random import RandomController
from hnas.costs import CostSettings, get_cost
from hnas.engine.seeds import torch_generator
from hnas.errors import GenotypeError, HnasError, SpecError
from hnas.registry import PRESETS
from hnas.spaces.codec import SpaceCodec
from hnas.spaces.genotype import Genotype
from hnas.spaces.resolve import resolve_genotype

#: ``random:K@REF`` draws architectures whose MACs are within this fraction of REF's.
MACS_TOLERANCE = 0.15
#: Uniform draws tried per wanted architecture before ``random:K@REF`` gives up.
TRIES_PER_DRAW = 4000

_RANDOM = re.compile(r"^random:(\d+)(?:@(.+))?$")
#: The deepest baseline ``PRESET@REF`` tries when matching REF's MACs.
MAX_LAYERS = 64


class MemberError(HnasError, ValueError):
    """A member that names nothing usable (one line: which member and why)."""


@dataclass(frozen=True)
class Member:
    """One architecture to retrain: display ``name`` (unique, used as a folder name), ``kind``
    (run, preset, baseline, genotype, random), the genotype, and what the user typed."""

    name: str
    kind: str
    genotype: Genotype
    source: str


@dataclass(frozen=True)
class Space:
    """What ``random:`` members are drawn from: the ops (and their settings), nodes and layers of a
    search space."""

    normal_ops: tuple[str, ...]
    upsampling_ops: tuple[str, ...]
    nodes: int
    layers: int
    op_params: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: Any) -> Space:
        return cls(tuple(spec.space.resolved_normal_ops()), tuple(spec.space.resolved_upsampling_ops()),
                   spec.space.nodes, spec.space.layers, spec.space.op_params())


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and (path / "genotype.json").is_file() and (path / "spec.json").is_file()


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "member"


def _single(text: str) -> tuple[str, Genotype]:
    """``(kind, genotype)`` of a member that names one architecture."""
    path = Path(text)
    if path.is_dir():
        from hnas.engine.runs import NotARunFolderError, run_network

        try:  # the genotype the run trained, its op settings included (old genotype.json files lack them)
            return "run", run_network(path).genotype
        except NotARunFolderError as exc:
            raise MemberError(f"member '{text}': {exc}") from None
    name = text.split(":", 1)[0]
    if name in PRESETS:
        kind = "baseline" if PRESETS.canonical(name).startswith("baseline-") else "preset"
        try:
            return kind, resolve_genotype(text)
        except GenotypeError as exc:
            raise MemberError(f"member '{text}': {exc}") from None
    if path.suffix in (".json", ".toml"):
        return "genotype", resolve_genotype(path)
    raise MemberError(
        f"member '{text}' is not a run folder, a genotype file or a preset ({', '.join(PRESETS.names())}), "
        "nor PRESET:layers=N / PRESET@MEMBER / random:K / random:K@MEMBER"
    )


def _name(kind: str, text: str) -> str:
    if kind == "run":
        return _safe(f"run-{Path(text).resolve().name}")
    if kind == "genotype":
        return _safe(Path(text).stem)
    name, _, params = text.partition(":")
    if name in PRESETS:
        return _safe(PRESETS.canonical(name) + (f"-{params}" if params else ""))
    return _safe(text)


def _sized_to(text: str, cost_settings: CostSettings) -> Member | None:
    """``PRESET@REF``: the preset at the depth (``layers``) whose MACs come closest to REF's, or
    None if ``text`` is not of that form. A baseline so sized is the equal-MACs control of a
    searched network."""
    name, at, ref = text.partition("@")
    if not at or name not in PRESETS or name.startswith("random:"):
        return None
    build = PRESETS.get(name)
    if "layers" not in inspect.signature(build).parameters:
        raise MemberError(f"member '{text}': preset '{name}' has no size to match (it takes no layers param)")
    macs = get_cost("macs")
    target = macs(_single(ref)[1], cost_settings)
    sized = min((build(layers=n) for n in range(1, MAX_LAYERS + 1)),
                key=lambda g: abs(macs(g, cost_settings) - target))
    label = _safe(f"{PRESETS.canonical(name)}-layers-{sized.layers}-at-{_name(_single(ref)[0], ref)}")
    return Member(label, "baseline", sized, text)


def space_of_run(path: Path) -> Space:
    """The search space of a finished ``hnas run`` folder (from its ``spec.json``)."""
    from hnas.search.spec_loader import load_run_spec

    return Space.from_spec(load_run_spec(path))


def _draw(space: Space, count: int, seed: int, salt: str, accept: Any = None) -> list[Genotype]:
    sampler = RandomController(SpaceCodec(space.normal_ops, space.upsampling_ops, space.nodes, space.layers,
                                          op_params=space.op_params))
    generator = torch_generator(seed, "compare", salt)
    found: list[Genotype] = []
    seen: set[str] = set()
    for _ in range(count * TRIES_PER_DRAW):
        genotype = sampler.sample(generator=generator).genotype
        if genotype.hash() in seen or (accept is not None and not accept(genotype)):
            continue
        seen.add(genotype.hash())
        found.append(genotype)
        if len(found) == count:
            return found
    raise MemberError(
        f"random:{count}@{salt.split('@', 1)[-1]}: found {len(found)} of {count} architectures within "
        f"{MACS_TOLERANCE:.0%} of its MACs in {count * TRIES_PER_DRAW} uniform draws; ask for fewer"
    )


def resolve_members(
    texts: list[str],
    *,
    space: Space | None,
    seed: int,
    cost_settings: CostSettings,
) -> list[Member]:
    """Resolve the command line's members in order (``random:`` expands to K members)."""
    if not texts:
        raise MemberError("name at least one member to compare")
    macs = get_cost("macs")
    members: list[Member] = []
    for text in texts:
        match = _RANDOM.match(text)
        if match is None and (sized := _sized_to(text, cost_settings)) is not None:
            members.append(sized)
            continue
        if match is None:
            kind, genotype = _single(text)
            members.append(Member(_name(kind, text), kind, genotype, text))
            continue
        count, ref = int(match.group(1)), match.group(2)
        if count < 1:
            raise MemberError(f"member '{text}': K must be at least 1")
        if space is None:
            raise MemberError(f"member '{text}' needs a search space: pass --space SPEC.toml or a run folder member")
        if ref is None:
            draws = _draw(space, count, seed, text)
            prefix = "random"
        else:
            _, reference = _single(ref)
            target = macs(reference, cost_settings)
            low, high = (1 - MACS_TOLERANCE) * target, (1 + MACS_TOLERANCE) * target
            draws = _draw(space, count, seed, text, lambda g: low <= macs(g, cost_settings) <= high)
            prefix = f"random-at-{_name(_single(ref)[0], ref)}"
        members += [Member(f"{prefix}-{i + 1}", "random", g, text) for i, g in enumerate(draws)]
    names = [m.name for m in members]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SpecError(f"members {', '.join(repeated)} are named twice; name each member once")
    return members
