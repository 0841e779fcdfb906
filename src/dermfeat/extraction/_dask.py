"""Dask clusters through ``dask.distributed``: clients, joblib's Dask backend, batch tasks."""

from __future__ import annotations

import contextlib
import uuid
from itertools import islice


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - dask is an optional extra
        raise ImportError(
            "running on a Dask cluster needs dask.distributed: pip install 'dermfeat[dask]'"
        ) from exc
    return distributed


@contextlib.contextmanager
def dask_client(scheduler):
    """A ``dask.distributed.Client`` for a scheduler address, a cluster or a client.

    Parameters
    ----------
    scheduler : str, Client, cluster object or None
        ``"tcp://host:8786"`` (a client is connected and closed again on exit),
        an existing :class:`distributed.Client` (used as it is, never closed), a
        cluster object such as :class:`distributed.LocalCluster` (a client is
        connected to it and closed on exit), or ``None`` for the current default
        client (:func:`distributed.get_client`).

    Yields
    ------
    client : distributed.Client

    Examples
    --------
    >>> from dermfeat.extraction import dask_client
    >>> with dask_client("tcp://127.0.0.1:8786") as client:  # doctest: +SKIP
    ...     print(sum(client.nthreads().values()), "threads")
    """
    distributed = _import_distributed()
    if scheduler is None:
        yield distributed.get_client()
        return
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if isinstance(scheduler, str) or hasattr(scheduler, "scheduler_address"):
        client = distributed.Client(scheduler, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
        return
    raise TypeError(
        "scheduler must be None, an address such as 'tcp://host:8786', a dask.distributed.Client "
        f"or a cluster, got {type(scheduler).__name__}"
    )


@contextlib.contextmanager
def dask_parallel(scheduler=None, **backend_params):
    """Run joblib-parallel code on a Dask cluster: grid searches, cross-validation, ...

    Inside the ``with`` block, everything that parallelises with joblib
    (:class:`~sklearn.model_selection.GridSearchCV` and ``cross_validate`` with
    ``n_jobs=-1``, :func:`dermfeat.evaluation.evaluate`, ...) sends its tasks to
    the cluster through joblib's Dask backend.  Results are the same as on one
    machine: the same code runs on the same data, only elsewhere.

    Every worker needs dermfeat and the same versions of its dependencies, and
    must see image files, ONNX models and the feature cache at the same paths as
    the client (shared storage).

    Parameters
    ----------
    scheduler : str, Client, cluster object or None, default=None
        See :func:`dask_client`; ``None`` uses the current default client.
    **backend_params : dict
        Passed to :func:`joblib.parallel_config` (e.g. ``scatter=[X, y]``).

    Yields
    ------
    client : distributed.Client

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from dermfeat.extraction import dask_parallel
    >>> search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, n_jobs=-1)
    >>> with dask_parallel("tcp://127.0.0.1:8786"):  # doctest: +SKIP
    ...     search.fit(X, y)
    """
    import joblib

    with dask_client(scheduler) as client:
        with joblib.parallel_config(backend="dask", client=client, **backend_params):
            yield client


def n_cluster_threads(client):
    """Worker threads of a client's cluster (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def map_batches(client, func, payload, batches, *, window=None):
    """Submit ``func(payload, batch)`` for each batch with at most ``window`` in flight.

    Yields ``(batch, result)`` as tasks complete.  ``payload`` (the transformer)
    is scattered once to every worker.  On an error the remaining tasks are
    cancelled and the error is raised; results already yielded stay valid.
    """
    distributed = _import_distributed()
    if window is None:
        window = 2 * n_cluster_threads(client)
    remote = client.scatter(payload, broadcast=True, hash=False)
    run = uuid.uuid4().hex[:12]
    todo = iter(batches)
    owner, live = {}, {}
    pending = distributed.as_completed(loop=client.loop)

    def submit(batch):
        future = client.submit(func, remote, batch, key=f"dermfeat-extract-{run}-{batch[0]}")
        owner[future.key] = batch
        live[future.key] = future
        pending.add(future)

    for batch in islice(todo, window):
        submit(batch)
    try:
        for future in pending:
            batch = owner.pop(future.key)
            live.pop(future.key, None)
            result = future.result()
            future.release()
            nxt = next(todo, None)
            if nxt is not None:
                submit(nxt)
            yield batch, result
    finally:
        if live:
            client.cancel(list(live.values()))
        pending.clear()
        client.cancel(remote)
