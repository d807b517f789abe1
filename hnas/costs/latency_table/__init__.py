"""A per-op latency lookup table, and a network's latency predicted from it (hardware-aware pricing).

MACs rank networks wrongly by the time a person waits: on a CPU a plain 3x3 convolution runs at
several times the multiply-add rate of a depthwise one, and narrow cells are dominated by per-op
overhead and memory-bound ops (node sums, concatenations, interpolations). MnasNet, FBNet and
ProxylessNAS price architectures by latency on the target device; FBNet and ProxylessNAS predict it
from a table of per-op latencies measured once, because timing every sampled network is far too
slow for a search (seconds per network, against microseconds for a look-up).

A table is measured once per target (``hnas latency build``) and stores, in milliseconds, every
piece a derived network of the space is made of, at the shape it runs at:

* each edge op (normal ops at the LR and the HR size; upsampling ops at ``scale`` on the LR input
  and in their stride-1 form on the HR size), with its params;
* a cell's 1x1 input preprocessing, a node's sum of its two edges, the concatenation (and the ReLU
  the network computes with it) of a cell's nodes;
* the stem (mean shift, layout change, 3x3 convolution, ReLU), the tail (3x3 convolution to RGB,
  mean shift) and the optional bicubic skip;
* per cell slot (a normal cell on the LR input, one on the HR input, the upsampling cell), the
  *measured* overhead of a whole cell over the sum of its pieces, the median over a few random
  cells: what Python dispatch adds, and what the backend saves by sharing a node's ReLU between
  edges or fusing a sum into a convolution (negative then);
* a network factor: measured whole networks over their sum of pieces and overheads, the median
  over a few random networks (what running inside one graph changes: caches, and for ONNX Runtime
  the layout conversions it inserts between cells).

A network's predicted latency is the sum of its pieces plus one overhead per cell, times the factor. Everything the
numbers depend on is recorded with them (device, its model name, threads, backend, input, scale,
channels, nodes, op set and params, torch and onnxruntime versions, the load while measuring), and a
table asked for under other settings is refused with one line naming the difference.

Backends: ``eager`` (PyTorch, on CPU or CUDA: the way hnas itself runs a network) and
``onnxruntime`` (each piece exported with ``torch.onnx.export`` and run by ONNX Runtime's CPU
execution provider: what a user who deploys with ``hnas export`` waits for).
"""


from hnas.costs.latency_table.build import build_table
from hnas.costs.latency_table.cost import LatencyTableCost
from hnas.costs.latency_table.predict import measure_network, network_terms, predict_latency
from hnas.costs.latency_table.table import (
    BACKENDS,
    SLOTS,
    TABLE_FORMAT,
    LatencyTable,
    LatencyTableError,
    TableConditions,
    check_conditions,
    load_table,
    write_table,
)
from hnas.costs.latency_table.timer import Timer, require_onnxruntime

__all__ = [
    "BACKENDS",
    "SLOTS",
    "TABLE_FORMAT",
    "LatencyTable",
    "LatencyTableCost",
    "LatencyTableError",
    "TableConditions",
    "Timer",
    "build_table",
    "check_conditions",
    "load_table",
    "measure_network",
    "network_terms",
    "predict_latency",
    "require_onnxruntime",
    "write_table",
]
