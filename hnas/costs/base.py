"""The cost interface, its cache, and lookup by name.

A cost maps ``(genotype, settings)`` to a float (paper Eq. 1's ``Cost(alpha)``). The search prices
every sampled genotype, and the controller samples the same genotypes again and again, so values
are cached by ``(cost, genotype hash, the settings the cost depends on)``: pricing an unseen
genotype is a count on the meta device (tens of milliseconds), a seen one a dictionary look-up
(microseconds).

A user cost registers like every other hnas extension::

    @COSTS.register("conv_layers")
    def conv_layers(genotype: Genotype, settings: CostSettings) -> float: ...

or as a :class:`Cost` subclass (to declare which settings matter, its unit and its reward scale).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, ClassVar

from hnas.costs.settings import CostSettings
from hnas.registry import COSTS
from hnas.spaces.genotype import Genotype
from hnas.spaces.resolve import GenotypeLike, resolve_genotype

ALL_SETTINGS: tuple[str, ...] = tuple(CostSettings.model_fields)


class CostCache:
    """A bounded least-recently-used map from ``(cost, genotype hash, settings)`` to a value."""

    def __init__(self, maxsize: int = 100_000) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, float] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> float | None:
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: float) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


#: The process-wide cost cache (one per process; DDP ranks each keep their own).
COST_CACHE = CostCache()


class Cost:
    """Base class of registered costs: ``cost(genotype, settings) -> float``, cached.

    Subclasses implement :meth:`compute` and set ``depends_on`` to the :class:`CostSettings`
    fields that change their value (the cache key), ``unit`` for display, and
    ``default_normaliser``, the amount of this cost that the joint reward weighs like one dB
    (``None``: a reward using it must be given a normaliser).
    """

    name: ClassVar[str] = ""
    unit: ClassVar[str] = ""
    depends_on: ClassVar[tuple[str, ...]] = ALL_SETTINGS
    default_normaliser: ClassVar[float | None] = None

    def compute(self, genotype: Genotype, settings: CostSettings) -> float:
        raise NotImplementedError

    def reward_normaliser(self, settings: CostSettings) -> float | None:
        """The amount of this cost, measured under ``settings``, that the joint reward weighs like
        one dB (``default_normaliser`` unless the cost's scale depends on the settings)."""
        return self.default_normaliser

    def check(self, settings: CostSettings) -> None:
        """Raise a one-line :class:`~hnas.errors.HnasError` if this cost cannot price under
        ``settings`` (e.g. a latency table built for another input); called when a spec is
        checked, so a mismatch stops a run before anything is written. Default: any settings."""

    def cache_token(self) -> Hashable:
        """What tells this cost apart from others in the shared cache (override if configurable)."""
        return (type(self).__module__, type(self).__qualname__)

    def __call__(
        self,
        genotype: GenotypeLike,
        settings: CostSettings | None = None,
        *,
        cache: bool = True,
        **overrides: Any,
    ) -> float:
        """The cost of ``genotype`` under ``settings`` (defaults: :class:`CostSettings`) with
        ``overrides`` applied, e.g. ``get_cost("macs")(g, channels=8, input=(48, 48))``."""
        if overrides or settings is None:
            settings = CostSettings.make(settings, **overrides)
        if not isinstance(genotype, Genotype):
            genotype = resolve_genotype(genotype)
        if not cache:
            return float(self.compute(genotype, settings))
        key = (self.cache_token(), genotype.hash(), settings.key(self.depends_on))
        value = COST_CACHE.get(key)
        if value is None:
            value = float(self.compute(genotype, settings))
            COST_CACHE.put(key, value)
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class FunctionCost(Cost):
    """A plain function ``f(genotype, settings) -> float`` registered as a cost."""

    def __init__(self, function: Callable[[Genotype, CostSettings], float], name: str = "") -> None:
        self.function = function
        self.cost_name = name or getattr(function, "__name__", "cost")

    def compute(self, genotype: Genotype, settings: CostSettings) -> float:
        return float(self.function(genotype, settings))

    def cache_token(self) -> Hashable:
        function = self.function
        where = (getattr(function, "__module__", ""), getattr(function, "__qualname__", ""))
        return ("function", *where, id(function))

    def __repr__(self) -> str:
        return f"FunctionCost({self.cost_name!r})"


def get_cost(name: str | Cost, **params: Any) -> Cost:
    """The registered cost ``name`` as a callable :class:`Cost` (unknown names list the registry).

    ``params`` go to the registered class's constructor; a registered plain function is wrapped.
    """
    if isinstance(name, Cost):
        return name
    entry = COSTS.entry(name)
    obj = entry.obj
    if isinstance(obj, type) and issubclass(obj, Cost):
        return obj(**params)
    if isinstance(obj, Cost):
        return obj
    if params:
        raise TypeError(f"cost '{entry.name}' is a plain function and takes no parameters")
    return FunctionCost(obj, entry.name)


def cost_of(
    name: str, genotype: GenotypeLike, settings: CostSettings | None = None, **overrides: Any
) -> float:
    """``cost_of("macs", "hnas-a", channels=8, input="48x48")``: one cost of one genotype."""
    return get_cost(name)(genotype, settings, **overrides)


def clear_cost_cache() -> None:
    """Forget every cached cost and counted network piece (e.g. after replacing an op)."""
    from hnas.costs.network import clear_piece_caches

    COST_CACHE.clear()
    clear_piece_caches()
