"""matplotlib without a display: one place that picks the Agg backend and turns figures into files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from hnas.utils.io import atomic_write


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed; imported only when plotting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plain_numbers(fig: Any) -> None:
    """Tick labels as the numbers themselves: matplotlib would write PSNRs of 32.39..32.41 as
    0.00..0.02 with ``+3.239e1`` in the corner, which nobody reads correctly at a glance."""
    from matplotlib.ticker import ScalarFormatter

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            formatter = axis.get_major_formatter()
            if isinstance(formatter, ScalarFormatter):
                formatter.set_useOffset(False)


def png_bytes(fig: Any, dpi: int = 96) -> bytes:
    """The figure as PNG bytes (no software tag, so the same figure gives the same bytes); closes it.
    Every hnas figure passes here, so every one gets :func:`plain_numbers`."""
    plain_numbers(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    pyplot().close(fig)
    return buffer.getvalue()


def save_png(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Write the figure as a PNG file atomically; closes it."""
    data = png_bytes(fig, dpi)
    return atomic_write(path, lambda fh: fh.write(data), binary=True)
