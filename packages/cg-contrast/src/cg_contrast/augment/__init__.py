"""Graph augmentations for the NT-Xent comparison (the paper itself uses none).

Each augmentation maps a PyG ``Batch`` of computation graphs (as made by
``cg_predict.graphs.GraphSet.batch`` or ``Batch.from_data_list([cg.to_pyg(), ...])``) to a new
``Batch`` of the same number of graphs, vectorised over the whole batch. None mutates its input,
and every output is a valid batch: node-aligned ``x``/``op``/``batch``, edges within their own
graph, at least one node per graph.
"""

from cg_contrast.augment._base import Augmentation, Compose
from cg_contrast.augment.crop import SubgraphCrop
from cg_contrast.augment.edge_drop import EdgeDrop
from cg_contrast.augment.masking import NodeFeatureMask

__all__ = ["Augmentation", "Compose", "EdgeDrop", "NodeFeatureMask", "SubgraphCrop"]
