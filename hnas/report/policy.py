"""The controller's learned policy, made visible: every decision's distribution along the greedy path.

The hierarchical controller (paper Sec. II-B, Fig. 1(b)) is autoregressive, so "the policy" of a
decision depends on the decisions before it. What is shown is the distribution of each decision
when every earlier decision took its most likely value: the path ``controller.sample(greedy=True)``
walks, whose choices form the greedy genotype. For the random controller every distribution is
uniform and its "greedy" genotype is a random draw (it has no preference to show).

A controller without a policy (regularized evolution) is shown by what it holds: each decision's
share of the population's members taking each value, the best architecture found so far (its
``greedy`` proposal and the one derivation starts from) outlined, and no entropy (there is no
distribution to have one; the search log records none either).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hnas.engine.runfiles import SEARCH_STATE_FILE
from hnas.report.rundata import NotARunFolderError
from hnas.spaces.genotype import Genotype

_INPUT_LABELS = ("c_{k-2}", "c_{k-1}")


def load_controller(run_dir: str | Path) -> Any:
    """The run's controller with its learned weights, rebuilt from ``spec.json``.

    The one place that knows how the search stores the controller (the ``controller`` tensor group
    and the ``controller`` info of ``search_state.safetensors``, :mod:`hnas.engine.state`); when
    that format changes, only this function changes. Every problem is a one-line
    :class:`NotARunFolderError`.
    """
    from hnas.engine.state import load_state
    from hnas.errors import HnasError
    from hnas.search.components import controller_of_spec
    from hnas.search.spec_loader import spec_from_dict

    run_dir = Path(run_dir)
    spec_file, state_file = run_dir / "spec.json", run_dir / SEARCH_STATE_FILE
    if not spec_file.is_file():
        raise NotARunFolderError(f"{run_dir} has no spec.json: pass the folder 'hnas run --out' wrote")
    if not state_file.is_file():
        members = sorted(p.name for p in run_dir.glob("lambda-*") if (p / SEARCH_STATE_FILE).is_file())
        hint = (
            f"it is a lambda sweep; inspect one of its runs, e.g. {run_dir / members[0]}"
            if members
            else "the search stage writes it after its first epoch"
        )
        raise NotARunFolderError(f"{run_dir} has no {SEARCH_STATE_FILE}: {hint}")
    try:
        spec = spec_from_dict(json.loads(spec_file.read_text(encoding="utf-8")), source=str(spec_file),
                              import_named=False)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotARunFolderError(f"cannot read {spec_file}: {exc}") from None
    space = spec.space
    controller = controller_of_spec(spec, space.resolved_normal_ops(), space.resolved_upsampling_ops())
    try:
        state = load_state(state_file)
        controller.load_resume_state(state.group("controller"), state.info["controller"])
    except (HnasError, OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise NotARunFolderError(
            f"{state_file} does not hold this spec's controller ({first}); "
            f"was the file copied from another run?"
        ) from None
    return controller.eval()


@dataclass(frozen=True)
class DecisionPolicy:
    """One decision on the greedy path: its choices, their probabilities, what was chosen."""

    part: str  # "normal" | "upsampling" | "position"
    kind: str  # "input" | "op" | "position"
    target: int  # the node it wires (0 for the position)
    slot: int  # 1 or 2: which of the node's two edges (0 for the position)
    choices: tuple[str, ...]
    probs: tuple[float, ...]
    choice: int
    entropy: float

    @property
    def label(self) -> str:
        if self.kind == "position":
            return "position"
        return f"node {self.target} {self.kind} {self.slot}"

    @property
    def chosen(self) -> str:
        return self.choices[self.choice]


@dataclass(frozen=True)
class Policy:
    """The learned policy of a run: every decision, the greedy genotype and its entropy.

    For a population (``population`` is its size): each decision's ``probs`` are the members'
    shares, ``genotype`` is the best so far (``best_reward``), and the entropies are None.
    """

    controller: str
    uniform: bool
    decisions: tuple[DecisionPolicy, ...]
    genotype: Genotype
    entropy: float | None
    part_entropy: dict[str, float]
    max_entropy: float
    population: int | None = None
    best_reward: float | None = None

    def of(self, part: str, kind: str | None = None) -> list[DecisionPolicy]:
        return [d for d in self.decisions if d.part == part and (kind is None or d.kind == kind)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "controller": self.controller,
            "uniform": self.uniform,
            "greedy_genotype": self.genotype.to_dict(),
            "greedy_hash": self.genotype.hash(),
            "entropy": self.entropy,
            "max_entropy": self.max_entropy,
            "part_entropy": self.part_entropy,
            "population": self.population,
            "best_reward": self.best_reward,
            "decisions": [{**asdict(d), "label": d.label, "chosen": d.chosen} for d in self.decisions],
        }


def _choice_names(controller: Any, part: str, kind: str, target: int) -> tuple[str, ...]:
    if kind == "op":
        return tuple(controller.ops_of(part))
    if kind == "position":
        return tuple(str(n) for n in range(1, controller.layers + 1))
    return tuple(_INPUT_LABELS[j] if j < 2 else f"node {j}" for j in range(target))


def population_of(controller: Any, name: str | None = None) -> Policy:
    """The members' shares of every decision, and the best architecture so far, of a controller
    without a policy (:attr:`hnas.controllers.Controller.has_policy`)."""
    import torch

    members = controller.members()
    with torch.no_grad():
        best = controller.sample(greedy=True)  # the best scored so far
    decisions = []
    seen: dict[tuple[str, int, str], int] = {}
    for index, slot in enumerate(controller.slots):
        names = _choice_names(controller, slot.part, slot.kind, slot.target)
        counts = [0] * len(names)
        for actions, _ in members:
            counts[actions[index]] += 1
        key = (slot.part, slot.target, slot.kind)
        seen[key] = seen.get(key, 0) + 1
        decisions.append(DecisionPolicy(
            part=slot.part, kind=slot.kind, target=slot.target,
            slot=0 if slot.kind == "position" else seen[key], choices=names,
            probs=tuple(c / max(1, len(members)) for c in counts), choice=int(best.actions[index]), entropy=0.0,
        ))
    scored = [reward for _, reward in getattr(controller, "history", [])]  # every reward learned, in order
    return Policy(
        controller=name or type(controller).__name__,
        uniform=False,
        decisions=tuple(decisions),
        genotype=best.genotype,
        entropy=None,
        part_entropy={},
        max_entropy=float(sum(math.log(len(d.choices)) for d in decisions)),
        population=len(members),
        best_reward=max(scored) if scored else None,
    )


def policy_of(controller: Any, name: str | None = None) -> Policy:
    """Walk the greedy path of ``controller`` and collect each decision's distribution (for a
    controller without a policy: :func:`population_of`)."""
    import torch

    if not getattr(controller, "has_policy", True):
        return population_of(controller, name)

    with torch.no_grad():
        sample = controller.sample(greedy=True)
    decisions = []
    seen: dict[tuple[str, int, str], int] = {}
    for decision in sample.decisions:
        names = _choice_names(controller, decision.part, decision.kind, decision.target)
        if decision.logits is None:
            probs = [1.0 / len(names)] * len(names)
        else:
            probs = torch.softmax(decision.logits.double().flatten(), dim=0).tolist()
        entropy = -sum(p * math.log(p) for p in probs if p > 0)
        key = (decision.part, decision.target, decision.kind)
        seen[key] = seen.get(key, 0) + 1
        decisions.append(
            DecisionPolicy(
                part=decision.part,
                kind=decision.kind,
                target=decision.target,
                slot=0 if decision.kind == "position" else seen[key],
                choices=names,
                probs=tuple(float(p) for p in probs),
                choice=int(decision.choice),
                entropy=float(entropy),
            )
        )
    part_entropy = {
        part: sum(d.entropy for d in decisions if d.part == part)
        for part in ("normal", "upsampling", "position")
    }
    return Policy(
        controller=name or type(controller).__name__,
        uniform=all(d.logits is None for d in sample.decisions),
        decisions=tuple(decisions),
        genotype=sample.genotype,
        entropy=float(sum(part_entropy.values())),
        part_entropy=part_entropy,
        max_entropy=float(sum(math.log(len(d.choices)) for d in decisions)),
    )


def run_policy(run_dir: str | Path) -> Policy:
    """The learned policy of the run in ``run_dir`` (``hnas inspect``, the report's heatmaps)."""
    controller = load_controller(run_dir)
    spec = json.loads((Path(run_dir) / "spec.json").read_text(encoding="utf-8"))
    section = spec.get("controller")
    return policy_of(controller, name=section.get("type") if isinstance(section, dict) else None)
