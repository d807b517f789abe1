"""The engine under every strategy: ask, train alone to the asked steps, score, tell, record.

Each answer is a line of ``strategy.jsonl`` (written after the candidate's weights), and each
candidate's weights and optimizer are a state file of their own under ``trials/``, so a promoted
candidate continues where it stopped and a killed run resumes exactly: a fresh strategy is told
the recorded rewards in order (it is deterministic, so it asks the same again), and the next
proposal continues from the weights on disk. The budget spent is the sum, over candidates, of the
steps each has been given; a candidate whose weights were saved but whose line was not is scored
again without being trained twice. Candidates that do not wait on one another train in parallel
when the run has several processes (each writes its own candidates' weights; rank 0 the log).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from hnas.engine.folder import RunFolder
from hnas.engine.processes import Processes
from hnas.engine.state import State, module_tensors, pack_optimizer, unpack_optimizer
from hnas.errors import HnasError
from hnas.search.algorithm import round_scores
from hnas.search.proxy import ProxyTrainer, Trial
from hnas.search.scoring import Scorer
from hnas.strategies.base import Proposal, Strategy
from hnas.strategies.files import STRATEGY_FILE, TRIALS_DIR, best_record
from hnas.utils.threads import num_threads


class ResumeMismatchError(HnasError):
    """A run folder's strategy log that the spec's strategy would not have written."""


class StrategyRun:
    """Runs ``strategy`` against stand-alone training (``proxy``) within ``budget_steps``."""

    def __init__(self, strategy: Strategy, proxy: ProxyTrainer, scorer: Scorer, folder: RunFolder,
                 threads: int | None = None) -> None:
        self.strategy, self.proxy, self.scorer, self.folder = strategy, proxy, scorer, folder
        self.budget = strategy.budget_steps
        self.threads = threads  # CPU threads per candidate (None: the process's)

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

    def _train_and_score(self, proposal: Proposal) -> dict[str, float]:
        """``proposal``'s candidate trained on to its steps (from its saved weights, if any), saved,
        and scored; a candidate already trained that far is only scored."""
        with num_threads(self.threads, only_lower=False):
            trial = self._trial(proposal)
            if trial.steps < proposal.steps:
                self.proxy.advance(trial, proposal.steps, self.strategy.horizon)
                self._save(trial)
            with torch.no_grad():
                return round_scores(self.scorer.score(trial.model, proposal.genotype))

    def _admit(self, batch: list[Proposal], had: dict[str, int]) -> tuple[list[tuple[Proposal, int]], bool]:
        """The proposals of ``batch`` the budget pays for, in order, each with the steps spent once
        it is trained; and whether the budget stopped the strategy. A candidate's steps are paid
        once: a promoted one pays only for the steps it adds."""
        admitted = []
        for proposal in batch:
            charge = max(0, proposal.steps - had.get(proposal.key, 0))
            if sum(had.values()) + charge > self.budget:
                return admitted, True  # the strategy asked beyond its budget: what it has is the result
            had[proposal.key] = max(had.get(proposal.key, 0), proposal.steps)
            admitted.append((proposal, sum(had.values())))
        return admitted, False

    def run(self, progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
        """Ask until the strategy finishes or the budget would be exceeded; returns the pick's record.

        Each round is what the strategy has :meth:`~Strategy.ready`; with several processes its
        candidates are dealt over them (:meth:`~hnas.engine.processes.Processes.spread`), and the rewards are
        recorded and told in the strategy's order, so the log is the one a single process writes
        when each candidate trains on the same number of threads (``threads``)."""
        records, had = self._replay()
        stopped = False
        while not stopped and (batch := self.strategy.ready()):
            admitted, stopped = self._admit(batch, had)

            def evaluate(index: int, item: tuple[Proposal, int]) -> dict[str, float]:
                proposal, spent = item
                scores = self._train_and_score(proposal)
                if progress is not None:
                    progress(spent, self.budget, f"{proposal.key} {proposal.steps} steps: "
                                                 f"{scores['psnr']:.2f} dB, reward {scores['reward']:.3f}")
                return scores

            def record(proposal: Proposal, spent: int, scores: dict[str, float]) -> None:
                line = {"stage": "strategy", "index": len(records), "hash": proposal.key, "steps": proposal.steps,
                        "genotype": proposal.genotype.to_dict(), "position": proposal.genotype.position,
                        **scores, "spent": spent}
                self.folder.append(STRATEGY_FILE, line)
                records.append(line)
                self.strategy.tell(proposal, scores["reward"])

            # the round dealt over the processes; its lines in order, each at once with one process
            Processes.current().spread(admitted, evaluate, lambda index, item, scores: record(*item, scores))
        if not records:
            raise HnasError("the strategy scored no architecture within strategy.budget_steps; raise the budget")
        return best_record(records)
