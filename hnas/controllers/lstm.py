"""The hierarchical LSTM controller of HNAS (paper Sec. II-B, Fig. 1(b)).

Built as HNAS-REFERENCE.md describes the authors' controller:

* Cell level: one ``LSTMCell`` (hidden 100, Supplementary "Training details") per cell type, each
  with its own embeddings, run from a zero state (normal cell first, then upsampling cell). Per
  intermediate node it emits input 1, input 2, op 1, op 2. An input index is chosen by pointer
  attention ``v . tanh(W_e e_j + W_h h)`` over the embeddings ``e_j`` of the nodes available so
  far; an op by a linear head on ``h``. The next LSTM input is the embedding of what was chosen.
* Network level: the last hidden states ``h_N``, ``h_U`` of the two cell LSTMs, concatenated,
  feed a third ``LSTMCell``; one attention step over ``layers`` position embeddings picks the
  upsampling position (1..L). ``network_init="input"`` (default) feeds the concatenation as that
  LSTM's *input* from a zero state, as the authors ran it (HNAS-A/B/C were found that way).
  ``network_init="state"`` follows the paper's Fig. 1(b) literally: the 200-d concatenation *is*
  the initial hidden state (so the network LSTM has hidden size ``2 * hidden``) and a learned start
  token is the input. Both let the position depend on both cells; the gradient of the position
  decision flows back into the two cell LSTMs either way.
* All weights uniform(-0.1, 0.1). Optional ENAS logit shaping: ``logits / temperature``, then
  ``tanh_constant * tanh(logits)``. Entropy is summed over all decisions.

Sampling never calls ``.item()`` inside the loop (choices stay tensors and index the embeddings),
so on CUDA a sample costs one host sync at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from hnas.controllers.base import CELL_PARTS, Controller, Decision, PartStats, Sample, weighted_total
from hnas.controllers.reinforce import EntropyMode, Reinforce
from hnas.errors import SpecError
from hnas.registry import CONTROLLERS
from hnas.spaces.codec import SpaceCodec

NetworkInit = Literal["input", "state"]


class _Pointer(nn.Module):
    """Additive (pointer-network) attention ``v . tanh(W_k k_j + W_q q)``: one logit per key."""

    def __init__(self, key_size: int, query_size: int, hidden: int) -> None:
        super().__init__()
        self.key = nn.Linear(key_size, hidden, bias=False)
        self.query = nn.Linear(query_size, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)

    def forward(self, projected_keys: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """``projected_keys`` = ``self.key(keys)`` (n x hidden, computed once per sample); -> n logits."""
        return self.v(torch.tanh(projected_keys + self.query(query))).squeeze(-1)


class _CellPolicy(nn.Module):
    """The cell-level LSTM for one cell type: its own LSTMCell, start token and embeddings."""

    def __init__(self, num_ops: int, nodes: int, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.node_embedding = nn.Embedding(nodes + 2, hidden)
        self.op_embedding = nn.Embedding(num_ops, hidden)
        self.pointer = _Pointer(hidden, hidden, hidden)
        self.op_head = nn.Linear(hidden, num_ops)


class _PositionPolicy(nn.Module):
    """The network-level LSTM and the attention over the ``layers`` position embeddings."""

    def __init__(self, layers: int, hidden: int, init: NetworkInit) -> None:
        super().__init__()
        self.init = init
        size = hidden if init == "input" else 2 * hidden
        if init == "input":
            self.lstm = nn.LSTMCell(2 * hidden, hidden)
        else:
            self.lstm = nn.LSTMCell(hidden, size)
            self.start = nn.Parameter(torch.zeros(1, hidden))
        self.position_embedding = nn.Embedding(layers, size)
        self.pointer = _Pointer(size, size, size)

    def query(self, h_normal: torch.Tensor, h_upsampling: torch.Tensor) -> torch.Tensor:
        both = torch.cat([h_normal, h_upsampling], dim=-1)
        if self.init == "input":
            h, _ = self.lstm(both)
        else:
            h, _ = self.lstm(self.start, (both, torch.zeros_like(both)))
        return h


@CONTROLLERS.register("hierarchical_lstm", aliases=("lstm", "hnas_lstm"))
class HierarchicalLSTMController(Controller):
    """HNAS's hierarchical controller: two cell-level LSTMs and a network-level LSTM (Sec. II-B).

    ``sample()`` returns a :class:`~hnas.controllers.base.Sample` (unpacks as ``genotype,
    log_prob, entropy``; the position decision weighted by ``position_weight``, default 10 as the
    authors). ``temperature``/``tanh_constant`` are the ENAS logit shaping, off by default.

    ``learn(sample, reward)`` is one REINFORCE update (:class:`~hnas.controllers.reinforce.Reinforce`)
    with the authors' optimiser (Adam, ``lr`` 3e-4 annealed to ``lr_min``, betas (0.5, 0.999),
    ``weight_decay`` 5e-4) and an EMA baseline (``baseline_decay`` 0.95). The entropy bonus
    defaults to the authors' loss-term form with ENAS's small weight (``entropy_weight`` 1e-4,
    ``entropy_mode="loss"``): the summed entropy of the 33 decisions is about 50 nats, so the
    paper's "added to the reward, weighted by 1" (``entropy_mode="reward"``, ``entropy_weight=1``)
    shifts every reward by ~50 against PSNR differences of tenths of a dB.
    """

    def __init__(
        self,
        codec: SpaceCodec,
        *,
        hidden: int = 100,
        position_weight: float = 10.0,
        network_init: NetworkInit = "input",
        temperature: float = 1.0,
        tanh_constant: float | None = None,
        init_range: float = 0.1,
        lr: float = 3e-4,
        lr_min: float | None = None,
        weight_decay: float = 5e-4,
        entropy_weight: float = 1e-4,
        entropy_mode: EntropyMode = "loss",
        baseline_decay: float = 0.95,
        grad_clip: float | None = None,
    ) -> None:
        super().__init__(codec, position_weight)
        if not isinstance(hidden, int) or hidden < 1:
            raise SpecError(f"hidden must be a positive integer, got {hidden!r}")
        if network_init not in ("input", "state"):
            raise SpecError(f"network_init must be 'input' or 'state', got {network_init!r}")
        if not temperature > 0:
            raise SpecError(f"temperature must be > 0, got {temperature!r}")
        if tanh_constant is not None and not tanh_constant > 0:
            raise SpecError(f"tanh_constant must be > 0 or None, got {tanh_constant!r}")
        self.hidden = hidden
        self.network_init = network_init
        self.temperature = float(temperature)
        self.tanh_constant = None if tanh_constant is None else float(tanh_constant)
        self.cells = nn.ModuleDict(
            {part: _CellPolicy(len(self.ops_of(part)), codec.nodes, hidden) for part in CELL_PARTS}
        )
        self.network = _PositionPolicy(codec.layers, hidden, network_init)
        for param in self.parameters():
            nn.init.uniform_(param, -init_range, init_range)
        try:
            self.reinforce = Reinforce(self, lr=lr, lr_min=lr_min, weight_decay=weight_decay,
                                       baseline_decay=baseline_decay, entropy_weight=entropy_weight,
                                       entropy_mode=entropy_mode, grad_clip=grad_clip)
        except ValueError as exc:
            raise SpecError(f"controller 'hierarchical_lstm': {exc}") from None

    # -- learning ------------------------------------------------------------------------------------
    def learn(self, sample: Sample, reward: float) -> dict[str, float]:
        """One REINFORCE step on ``sample``'s log-probability (Algorithm 1, line 11)."""
        return self.reinforce.step(sample.log_prob, sample.entropy, reward)

    def set_progress(self, progress: float) -> None:
        self.reinforce.set_progress(progress)

    def resume_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors, _ = super().resume_state()
        optim, info = self.reinforce.resume_state()
        tensors.update({f"reinforce.{k}": v for k, v in optim.items()})
        return tensors, {"reinforce": info}

    def load_resume_state(self, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        own = {k: v for k, v in tensors.items() if not k.startswith("reinforce.")}
        optim = {k.removeprefix("reinforce."): v for k, v in tensors.items() if k.startswith("reinforce.")}
        self.load_state_dict(own)
        self.reinforce.load_resume_state(optim, info["reinforce"])

    # -- one decision -------------------------------------------------------------------------------
    def _shape(self, logits: torch.Tensor) -> torch.Tensor:
        if self.temperature != 1.0:
            logits = logits / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits

    def _decide(
        self,
        logits: torch.Tensor,
        greedy: bool,
        generator: torch.Generator | None,
        forced: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (choice as a 0-d long tensor, its log-probability, the distribution's entropy)."""
        log_p = F.log_softmax(logits, dim=-1)
        p = log_p.exp()
        if forced is not None:
            choice = forced
        elif greedy:
            choice = torch.argmax(log_p)
        else:
            choice = torch.multinomial(p.detach(), 1, generator=generator)[0]
        # gather, not log_p[choice]: indexing by a tensor would copy the choice to the host.
        return choice, log_p.gather(0, choice.view(1))[0], -(p * log_p).sum()

    # -- a whole architecture ----------------------------------------------------------------------
    def _run(
        self, greedy: bool, generator: torch.Generator | None, forced: torch.Tensor | None
    ) -> Sample:
        choices: list[torch.Tensor] = []
        logits_seen: list[torch.Tensor] = []
        parts: dict[str, PartStats] = {}
        last_h: dict[str, torch.Tensor] = {}

        def step(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            logits = self._shape(logits)
            slot_forced = None if forced is None else forced[len(choices)]
            choice, lp, ent = self._decide(logits, greedy, generator, slot_forced)
            choices.append(choice)
            logits_seen.append(logits.detach())
            return choice, lp, ent

        for part in CELL_PARTS:
            policy: _CellPolicy = self.cells[part]  # type: ignore[assignment]
            keys = policy.pointer.key(policy.node_embedding.weight)
            x, state = policy.start, None
            log_probs: list[torch.Tensor] = []
            entropies: list[torch.Tensor] = []
            for target in range(2, self.nodes + 2):
                for _ in range(2):  # input index 1, input index 2
                    h, c = state = policy.lstm(x, state)
                    choice, lp, ent = step(policy.pointer(keys[:target], h[0]))
                    x = policy.node_embedding(choice.view(1))
                    log_probs.append(lp)
                    entropies.append(ent)
                for _ in range(2):  # op 1, op 2
                    h, c = state = policy.lstm(x, state)
                    choice, lp, ent = step(policy.op_head(h[0]))
                    x = policy.op_embedding(choice.view(1))
                    log_probs.append(lp)
                    entropies.append(ent)
            parts[part] = PartStats(torch.stack(log_probs).sum(), torch.stack(entropies).sum())
            last_h[part] = state[0]  # type: ignore[index]

        query = self.network.query(last_h["normal"], last_h["upsampling"])
        keys = self.network.pointer.key(self.network.position_embedding.weight)
        _, lp, ent = step(self.network.pointer(keys, query[0]))
        parts["position"] = PartStats(lp, ent)

        actions = torch.stack(choices).tolist()  # the one host sync of a sample
        decisions = tuple(
            Decision(slot.part, slot.kind, slot.target, a, lg)
            for slot, a, lg in zip(self.slots, actions, logits_seen)
        )
        log_prob, entropy = weighted_total(parts, self.position_weight)
        return Sample(
            self.genotype_from_actions(actions), log_prob, entropy, parts, decisions, self.position_weight
        )

    def sample(self, greedy: bool = False, generator: torch.Generator | None = None) -> Sample:
        """Draw one architecture; with ``greedy`` the argmax at every step (deterministic).

        ``generator`` (on the controller's device) makes the draw independent of torch's global RNG;
        without it the draw is reproducible from ``torch.manual_seed``.
        """
        return self._run(greedy, generator, None)

    def replay(self, actions: Sequence[int]) -> Sample:
        """Teacher-force ``actions`` (e.g. ``sample.actions``): same log_prob/entropy as when drawn."""
        checked = self.check_actions(actions)
        return self._run(False, None, torch.tensor(checked, dtype=torch.long, device=self.device))

    def extra_repr(self) -> str:
        shaping = f", temperature={self.temperature}, tanh_constant={self.tanh_constant}"
        return f"{super().extra_repr()}, hidden={self.hidden}, network_init={self.network_init!r}{shaping}"
