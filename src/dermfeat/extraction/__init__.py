"""Feature extraction at scale: streaming to disk, resuming, Dask clusters.

* :func:`extract_features` streams images in batches through any image
  transformer and writes the features, with file name, label and group
  columns, to Parquet (or ``.npy`` + CSV).  Memory is bounded by the batch
  size; an interrupted run resumes where it stopped; unreadable images are
  listed with the reason in a side file.  ``scheduler=`` sends the batches to a
  Dask cluster.
* :func:`read_features` loads the result.
* :func:`dask_parallel` runs joblib-parallel code (``GridSearchCV``,
  ``cross_validate``, :func:`dermfeat.evaluation.evaluate`) on a Dask cluster;
  :func:`dask_client` connects to one.

See the user guide page "Running at scale" for cluster set-up.
"""

from ._dask import dask_client, dask_parallel
from ._extract import extract_features
from ._output import output_paths, read_features

__all__ = ["dask_client", "dask_parallel", "extract_features", "output_paths", "read_features"]
