"""Running many seeds or cells at once: ``parallel_map`` over joblib workers (or a Dask cluster, see
``experiments._cluster``), each task with one BLAS thread."""
from . import _cluster

BLAS_THREADS_PER_RUN = 1  # every parallel_map task, at any --jobs: float32 BLAS results depend on the thread count


def one_blas_thread():
    """Context: BLAS limited to one thread (``threadpoolctl``, installed with scikit-learn). Used by every
    ``parallel_map`` task, and around work on small matrices, where two threads on two shared cores wait for each
    other more than they multiply (measured: 128×128 products 50× slower)."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=BLAS_THREADS_PER_RUN)


def _one_blas_thread(fn, task):
    with one_blas_thread():
        return fn(task)


def where(jobs):
    """Where ``parallel_map`` runs its tasks, for progress lines: ``--jobs N`` or ``the Dask cluster at ADDRESS``."""
    address = _cluster.active_address()
    return f"the Dask cluster at {address}" if address else f"--jobs {jobs}"


def parallel_map(fn, tasks, jobs, on_result=None):
    """``[fn(t) for t in tasks]``, in order, in ``jobs`` joblib worker processes, or on the Dask cluster that
    --dask connected to (``jobs`` is then unused: the cluster's worker threads set the parallelism).

    ``on_result(i, result)``, if given, is called in the parent as each result arrives (in task order), e.g. to
    print a progress line per run.

    Each task runs with BLAS limited to one thread, whatever ``jobs`` is, so ``--jobs 1`` and ``--jobs N`` give
    bitwise-identical results (float32 GEMM results change with the BLAS thread count). ``fn`` must be a
    module-level function (it is pickled). Without --dask, joblib's configuration picks the backend, so
    ``joblib.parallel_config(backend="dask")`` around ``main`` works too; npnet itself does not depend on dask.
    """
    from joblib import Parallel, delayed
    tasks = list(tasks)
    on_cluster = _cluster.active() is not None
    out = []
    with _cluster.joblib_config():
        if jobs == 1 and not on_cluster:
            results = (_one_blas_thread(fn, t) for t in tasks)
        else:
            results = Parallel(n_jobs=-1 if on_cluster else min(jobs, len(tasks)) or 1, return_as="generator")(
                delayed(_one_blas_thread)(fn, t) for t in tasks)
        for i, result in enumerate(results):
            if on_result is not None:
                on_result(i, result)
            out.append(result)
    return out
