"""The engine under every strategy: ask, train alone to the asked steps, score, tell, record.

Each answer is a line of ``strategy.jsonl`` (written after the candidate's weights), and each
candidate's weights and optimizer are a state file of their own under ``trials/``, so a promoted
candidate continues where it stopped and a killed run resumes exactly: a fresh strategy is told
the recorded rewards in order (it is deterministic, so it asks the same again), and the next
proposal continues from the weights on disk. The budget spent is the sum, over candidates, of the
steps each has had; a candidate whose weights were saved but whose line was not is scored again
without being trained twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from hnas.engine.folder import RunFolder
from hnas.engine.state import State, module_tensors, pack_optimizer, unpack_optimizer
from hnas.errors import HnasError
from hnas.search.algorithm import round_scores
from hnas.search.proxy import ProxyTrainer, Trial
from hnas.search.scoring import Scorer
from hnas.strategies.base import Proposal, Strategy
from hnas.strategies.files import STRATEGY_FILE, TRIALS_DIR, best_record


class ResumeMismatchError(HnasError):
    """A run folder's strategy log that the spec's strategy would not have written."""


class StrategyRun:
    """Runs ``strategy`` against stand-alone training (``proxy``) within ``budget_steps``."""

    def __init__(self, strategy: Strategy, proxy: ProxyTrainer, scorer: Scorer, folder: RunFolder) -> None:
        self.strategy, self.proxy, self.scorer, self.folder = strategy, proxy, scorer, folder
        self.budget = strategy.budget_steps

    def _trial_name(self, key: str) -> str:
        return f"{TRIALS_DIR}/{key}.safetensors"

    def _trial(self, proposal: Proposal) -> Trial:
        trial = self.proxy.start(proposal.genotype)
        state = self.folder.load_state(self._trial_name(proposal.key))
        if state is not None:
            trial.model.load_state_dict(state.group("model"))
            unpack_optimizer(state, "optim", trial.optimizer)
            trial.steps = int(state.info["steps"])
        return trial

    def _save(self, trial: Trial) -> None:
        (self.folder / TRIALS_DIR).mkdir(exist_ok=True)
        state = State({"model": module_tensors(trial.model)}, {"steps": trial.steps, "hash": trial.genotype.hash()})
        pack_optimizer(state, "optim", trial.optimizer)
        self.folder.save_state(self._trial_name(trial.genotype.hash()), state)

    def _replay(self) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """Tell the strategy what the folder's log says it was told; the log and each candidate's steps."""
        records = self.folder.records(STRATEGY_FILE)
        had: dict[str, int] = {}
        for index, record in enumerate(records):
            proposal = self.strategy.ask()
            if proposal is None or proposal.key != record.get("hash") or proposal.steps != record.get("steps"):
                raise ResumeMismatchError(
                    f"{self.folder / STRATEGY_FILE} line {index + 1} is not what this spec's strategy proposes "
                    "(the spec or hnas changed since it was written); resume it with the hnas that wrote it, "
                    "or start afresh in another --out"
                )
            self.strategy.tell(proposal, float(record["reward"]))
            had[proposal.key] = max(had.get(proposal.key, 0), proposal.steps)
        return records, had

    def run(self, progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
        """Ask until the strategy finishes or the budget would be exceeded; returns the pick's record."""
        records, had = self._replay()
        while (proposal := self.strategy.ask()) is not None:
            trial = self._trial(proposal)
            had[proposal.key] = max(had.get(proposal.key, 0), trial.steps)  # weights saved, line not: paid
            charge = max(0, proposal.steps - trial.steps)
            if sum(had.values()) + charge > self.budget:
                break  # the strategy asked beyond its budget: what it has is the result
            if charge:
                self.proxy.advance(trial, proposal.steps, self.strategy.horizon)
                self._save(trial)
                had[proposal.key] = trial.steps
            with torch.no_grad():
                scores = round_scores(self.scorer.score(trial.model, proposal.genotype))
            record = {"stage": "strategy", "index": len(records), "hash": proposal.key, "steps": proposal.steps,
                      "genotype": proposal.genotype.to_dict(), "position": proposal.genotype.position, **scores,
                      "spent": sum(had.values())}
            self.folder.append(STRATEGY_FILE, record)
            records.append(record)
            self.strategy.tell(proposal, scores["reward"])
            if progress is not None:
                progress(record["spent"], self.budget, f"{proposal.key} {proposal.steps} steps: "
                                                       f"{scores['psnr']:.2f} dB, reward {scores['reward']:.3f}")
        if not records:
            raise HnasError("the strategy scored no architecture within strategy.budget_steps; raise the budget")
        return best_record(records)
