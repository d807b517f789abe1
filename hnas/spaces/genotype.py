"""Genotypes: the frozen, validated description of one architecture of the HNAS search space.

A cell is a DAG (paper Sec. II-A, Fig. 2): nodes 0 and 1 are the outputs of the two previous cells,
nodes 2..B-1 are intermediate nodes that each sum two edges ``(op, from, to)`` with ``from < to``;
the cell output concatenates the intermediate nodes. A network genotype adds the network level:
``layers`` cells of which the one at ``position`` (1-based, as in the paper) is the upsampling cell.

The canonical JSON form (``Genotype.canonical_json()``) sorts edges and replaces op aliases by
primary names, so the same network always has the same :meth:`Genotype.hash`.

A genotype is the whole architecture: besides the edges it names the cell types and the settings
of ops configured with params (``op_params``, e.g. a spec's ``{type = "conv_kxk", params = {kernel
= 5}}``), so ``genotype.json`` alone rebuilds the network that was trained. Both are left out of
the canonical form at their defaults, so the hash of a genotype without them is what it always was.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hnas.errors import GenotypeError, UnknownNameError, first_error
from hnas.registry import CELLS, NORMAL_OPS, UPSAMPLING_OPS, Registry

#: Number of intermediate nodes per cell in the paper (B - 2 = 4).
DEFAULT_NODES = 4
DEFAULT_LAYERS = 12
#: The paper's cell types (registered in ``hnas.registry.CELLS`` by :mod:`hnas.models.cells`).
DEFAULT_CELLS = {"normal_cell": "normal", "upsampling_cell": "upsampling"}
#: ``op_params`` by cell kind: ``{"normal": {"conv_kxk": {"kernel": 5}}, "upsampling": {...}}``.
OpParamsByKind = dict[str, dict[str, dict[str, Any]]]
_OP_REGISTRIES = {"normal": NORMAL_OPS, "upsampling": UPSAMPLING_OPS}


class Edge(NamedTuple):
    """One edge of a cell DAG: apply ``op`` to node ``source``, add the result into node ``target``.

    A named tuple so that JSON and TOML hold it as ``["sep_conv_3x3", 1, 2]``.
    """

    op: str
    source: int
    target: int


class CellGenotype(BaseModel):
    """The edges of one cell; two per intermediate node, nodes numbered as in the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    edges: tuple[Edge, ...]

    @field_validator("edges")
    @classmethod
    def _check_dag(cls, edges: tuple[Edge, ...]) -> tuple[Edge, ...]:
        if not edges:
            raise ValueError("a cell needs at least one intermediate node (two edges)")
        for i, edge in enumerate(edges):
            where = f"edge {i} {list(edge)}"
            if edge.target < 2:
                raise ValueError(f"{where}: target node {edge.target} is an input node; targets start at 2")
            if edge.source < 0:
                raise ValueError(f"{where}: source node {edge.source} is negative")
            if edge.source >= edge.target:
                raise ValueError(
                    f"{where}: node {edge.target} takes input from node {edge.source}, "
                    f"which is not an earlier node (from must be < to)"
                )
        counts = Counter(edge.target for edge in edges)
        last = max(counts)
        for node in range(2, last + 1):
            if counts.get(node, 0) != 2:
                raise ValueError(
                    f"node {node} has {counts.get(node, 0)} incoming edges; every intermediate node "
                    f"needs exactly two"
                )
        return tuple(sorted(edges, key=lambda e: (e.target, e.source, e.op)))

    @property
    def nodes(self) -> int:
        """Number of intermediate nodes (B - 2)."""
        return max(edge.target for edge in self.edges) - 1

    def node_edges(self, node: int) -> tuple[Edge, ...]:
        return tuple(edge for edge in self.edges if edge.target == node)

    def ops(self) -> list[str]:
        return [edge.op for edge in self.edges]

    def canonical_with(self, registry: Registry[Any], cell: str) -> CellGenotype:
        """Check every op against ``registry`` and replace aliases by primary names."""
        edges = []
        for i, edge in enumerate(self.edges):
            try:
                op = registry.canonical(edge.op)
            except UnknownNameError as exc:
                raise GenotypeError(f"{cell} cell, node {edge.target}, edge {i} {list(edge)}: {exc}") from None
            edges.append(Edge(op, edge.source, edge.target))
        return CellGenotype(edges=tuple(edges))


def _cell_from_any(value: Any) -> Any:
    """Accept a cell as ``{"edges": [...]}`` or as the bare list of edges."""
    if isinstance(value, (list, tuple)):
        return {"edges": value}
    return value


class Genotype(BaseModel):
    """A network genotype: normal cell, upsampling cell and the upsampling cell's position.

    ``position`` is 1-based (1..layers); HNAS-A has 10 of 12. ``normal_cell`` and
    ``upsampling_cell`` name the registered cell types (``hnas list cells``); the paper's are the
    defaults, and the canonical form leaves defaults out, so the hashes of the paper's genotypes
    do not depend on these fields. ``op_params`` holds the settings of the ops the cells use, by
    cell kind (settings of ops no edge uses are dropped: the genotype describes one network, not
    the space it came from); empty, it is left out of the canonical form too.
    ``Genotype.model_validate_json`` accepts the canonical JSON printed by ``hnas show NAME --json``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    normal: CellGenotype
    upsampling: CellGenotype
    position: int
    layers: int = DEFAULT_LAYERS
    normal_cell: str = "normal"
    upsampling_cell: str = "upsampling"
    op_params: OpParamsByKind = Field(default_factory=dict)

    def __hash__(self) -> int:  # pydantic's frozen hash cannot hash the op_params dicts
        return hash(self.canonical_json())

    @field_validator("normal", "upsampling", mode="before")
    @classmethod
    def _accept_edge_lists(cls, value: Any) -> Any:
        return _cell_from_any(value)

    @model_validator(mode="after")
    def _check_network(self) -> Genotype:
        if self.layers < 1:
            raise ValueError(f"layers must be at least 1, got {self.layers}")
        if not 1 <= self.position <= self.layers:
            raise ValueError(
                f"upsampling position {self.position} is outside 1..{self.layers} "
                f"(positions are 1-based: 1 = first cell, {self.layers} = last)"
            )
        normal = self.normal.canonical_with(NORMAL_OPS, "normal")
        upsampling = self.upsampling.canonical_with(UPSAMPLING_OPS, "upsampling")
        object.__setattr__(self, "normal", normal)
        object.__setattr__(self, "upsampling", upsampling)
        for field, kind in (("normal_cell", "normal"), ("upsampling_cell", "upsampling")):
            object.__setattr__(self, field, _cell_type(getattr(self, field), kind))
        object.__setattr__(self, "op_params", _used_op_params(self.op_params, {
            "normal": set(normal.ops()), "upsampling": set(upsampling.ops())}))
        return self

    def with_op_params(self, op_params: Mapping[str, Mapping[str, Mapping[str, Any]]] | None) -> Genotype:
        """This genotype with ``op_params`` laid over its own (an op's given settings replace its
        recorded ones); settings of ops it does not use are dropped."""
        if not op_params:
            return self
        merged: dict[str, dict[str, dict[str, Any]]] = {k: dict(v) for k, v in self.op_params.items()}
        for kind, ops in op_params.items():
            merged.setdefault(kind, {}).update({op: dict(values) for op, values in (ops or {}).items()})
        return Genotype.from_data({**self.model_dump(), "op_params": merged})

    def without_op_params(self) -> Genotype:
        """The same edges, position and cell types with the ops at their default settings."""
        return self.model_copy(update={"op_params": {}}) if self.op_params else self

    # -- canonical form -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict in canonical form (edges as ``[op, from, to]`` lists; cell types
        only when they are not the paper's)."""
        data: dict[str, Any] = {
            "normal": [list(edge) for edge in self.normal.edges],
            "upsampling": [list(edge) for edge in self.upsampling.edges],
            "position": self.position,
            "layers": self.layers,
        }
        for field, default in DEFAULT_CELLS.items():
            if getattr(self, field) != default:
                data[field] = getattr(self, field)
        if self.op_params:
            data["op_params"] = self.op_params
        return data

    def ops(self) -> set[tuple[str, str]]:
        """``(registry, op)`` pairs this genotype uses: ``("normal", "rcab")``, ``("upsampling", ...)``."""
        return {("normal", e.op) for e in self.normal.edges} | {("upsampling", e.op) for e in self.upsampling.edges}

    def canonical_json(self, indent: int | None = None) -> str:
        if indent is None:
            return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return json.dumps(self.to_dict(), indent=indent)

    def hash(self) -> str:
        """Stable 16-hex-digit id of the network (same genotype, same hash, across runs)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    def __str__(self) -> str:
        return f"Genotype(position={self.position}/{self.layers}, hash={self.hash()})"

    # -- files ------------------------------------------------------------------------------------
    def to_toml(self) -> str:
        def cell(edges: tuple[Edge, ...]) -> str:
            rows = ",\n".join(f'  ["{e.op}", {e.source}, {e.target}]' for e in edges)
            return f"[\n{rows},\n]"

        cells = "".join(
            f'{field} = "{getattr(self, field)}"\n' for field, default in DEFAULT_CELLS.items()
            if getattr(self, field) != default
        )
        params = f"op_params = {_toml_value(self.op_params)}\n" if self.op_params else ""
        return (
            f"position = {self.position}\nlayers = {self.layers}\n{cells}{params}"
            f"normal = {cell(self.normal.edges)}\nupsampling = {cell(self.upsampling.edges)}\n"
        )

    def save(self, path: str | Path) -> Path:
        """Write JSON or TOML by the file suffix, atomically."""
        from hnas.utils.io import atomic_write_text

        path = Path(path)
        text = self.to_toml() if path.suffix == ".toml" else self.canonical_json(indent=2) + "\n"
        atomic_write_text(path, text)
        return path

    @classmethod
    def from_data(cls, data: Any, source: str = "genotype") -> Genotype:
        """Validate a dict, raising :class:`GenotypeError` with a one-line reason."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise GenotypeError(f"invalid {source}: {_first_error(exc)}") from None

    @classmethod
    def load(cls, path: str | Path) -> Genotype:
        """Read a genotype from a ``.json`` or ``.toml`` file."""
        from hnas.utils.io import read_structured

        path = Path(path)
        data = read_structured(path, "genotype file", GenotypeError, toml=path.suffix == ".toml")
        return cls.from_data(data, source=f"genotype in {path}")


def _used_op_params(op_params: Mapping[str, Any], used: dict[str, set[str]]) -> OpParamsByKind:
    """``op_params`` with primary op names, only the ops a cell uses, keys sorted (canonical)."""
    out: OpParamsByKind = {}
    for kind, ops in op_params.items():
        if kind not in _OP_REGISTRIES:
            raise ValueError(f"op_params keys are 'normal' and 'upsampling', got {kind!r}")
        if not isinstance(ops, Mapping):
            raise ValueError(f"op_params.{kind} is a table of op -> settings, got {type(ops).__name__}")
        kept: dict[str, dict[str, Any]] = {}
        for op, values in ops.items():
            if not isinstance(values, Mapping):
                raise ValueError(f"op_params.{kind}.{op} is a table of settings, got {type(values).__name__}")
            try:
                name = _OP_REGISTRIES[kind].canonical(op)
            except UnknownNameError as exc:
                raise ValueError(f"op_params.{kind}: {exc}") from None
            if values and name in used[kind]:
                kept[name] = {str(key): values[key] for key in sorted(values)}
        if kept:
            out[kind] = {op: kept[op] for op in sorted(kept)}
    return {kind: out[kind] for kind in sorted(out)}


def _toml_value(value: Any) -> str:
    """``value`` (JSON-like: tables, lists, strings, numbers, booleans) as a TOML inline value."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    raise ValueError(f"op_params value {value!r} cannot be written to TOML")


def _cell_type(name: str, kind: str) -> str:
    """The canonical name of a registered cell type that fills the ``kind`` slot."""
    try:
        canonical = CELLS.canonical(name)
    except UnknownNameError as exc:
        raise ValueError(f"{kind}_cell: {exc}") from None
    found = getattr(CELLS.get(canonical), "kind", None)
    if found != kind:
        raise ValueError(f"{kind}_cell '{name}' is a {found or 'untyped'} cell; this slot needs a {kind} cell")
    return canonical


def _first_error(exc: ValidationError) -> str:
    """One readable line for the first pydantic error: where it is and why."""
    loc, msg = first_error(exc)
    return f"{loc}: {msg}" if loc else msg
