"""CPU fast paths that compute what the standard ops compute, in fewer or faster kernels.

hnas networks run many small ops on few channels, where the choices PyTorch makes by default cost
a lot on a CPU (benchmarks/README.md has the measurements):

* A 1x1 convolution of a batch under 16 on one thread goes to PyTorch's own GEMM path, which the
  dispatcher prefers there; oneDNN runs the same convolution 2-3x faster (channels-last input).
  :func:`pointwise_conv` calls oneDNN directly.
* Each cell output is passed through ReLU by both cells that read it (their input preprocessing);
  :func:`concat` can return the ReLU of the concatenation in the pass that concatenates, so the
  network computes it once (see ``HNASNet.forward``).
* Several edges of a cell often read the same node, and the separable and dilated convolutions
  all start with a ReLU of it; :func:`run_edge` computes that ReLU once per node (the :class:`ReluFirst` protocol, in
  ``edges.py``) (and a
  parameter-free op, e.g. the same interpolation, once per node), for every cell.
* Without autograd, oneDNN can apply a ReLU or add a tensor in the pass that writes a 1x1
  convolution's output (post-ops); :func:`pointwise_conv` takes ``relu=`` and ``add=``, so a
  separable convolution's inner ReLU and a node's sum of its two edges cost no pass of their own
  (:func:`run_node`).
* oneDNN has no fast backward for *dilated* depthwise convolutions on AVX2 CPUs (the weight
  gradient falls back to a GEMM, 5-10x the forward). A dilation-2 convolution is four independent
  undilated ones on the four polyphase sub-images; :func:`to_phases` / :func:`from_phases` move
  between the two layouts, so ``DilConv`` can run the fast undilated kernels (see
  ``hnas.ops.normal.DilConv``).
* Its weight gradient of an undilated *5x5* depthwise convolution is slow too (a generic kernel,
  6-7x the forward), while the 3x3 one is fast: :class:`DepthwiseConv2d` computes a 5x5 (any odd
  k > 3) weight gradient as the weight gradients of 3x3 windows that tile the kernel.

Each fast path runs only where it is an exact substitute: eager float32 CPU tensors, oneDNN
available and enabled, and no tracing, scripting, compiling or ``TorchDispatchMode`` (e.g.
``FlopCounterMode``, fake tensors under ``torch.export``). Everywhere else the standard op runs,
so cost counting, export and other devices see exactly the operations they always saw.
"""

from __future__ import annotations

from hnas.ops.fast.edges import ReluFirst, concat, run_edge, run_node
from hnas.ops.fast.gates import cpu_rewrite, eager_cpu, plain_ops
from hnas.ops.fast.kernels import (
    FEW_OUTPUTS,
    FEW_OUTPUTS_MIN_INPUTS,
    DepthwiseConv2d,
    FewOutputConv2d,
    PointwiseConv2d,
    depthwise_conv,
    few_output_conv,
    from_phases,
    phases_fit,
    pointwise_conv,
    to_phases,
)

__all__ = [
    "FEW_OUTPUTS",
    "FEW_OUTPUTS_MIN_INPUTS",
    "DepthwiseConv2d",
    "FewOutputConv2d",
    "PointwiseConv2d",
    "ReluFirst",
    "concat",
    "cpu_rewrite",
    "depthwise_conv",
    "eager_cpu",
    "few_output_conv",
    "from_phases",
    "phases_fit",
    "plain_ops",
    "pointwise_conv",
    "run_edge",
    "run_node",
    "to_phases",
]
