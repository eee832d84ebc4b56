"""scanpy-style functions behind the CLI: preprocess, train, export, embed, evaluate, load_model."""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Callable

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scsmd import __version__
from scsmd.atomic import atomic_path
from scsmd.bundle import LABEL_HEAD, REFERENCE_CELLS, Bundle, check_writable, write_bundle
from scsmd.config import EmbedConfig, ExportConfig, ModelConfig, PreprocessConfig, TrainConfig, to_dict
from scsmd.errors import ScsmdError
from scsmd.infer.assign import QUANTILES, distance_quantiles
from scsmd.infer.embed import DERIVED, RESULT_COLUMNS, EmbedResult, embed_chunks, iter_embed
from scsmd.infer.h5ad_results import H5adResults, results_skeleton
from scsmd.infer.label_head import LabelHead
from scsmd.infer.memory import return_freed_memory
from scsmd.infer.timing import StageTimer
from scsmd.io import check_counts, checked_chunks, count_matrix, h5ad_shape, is_h5ad, iter_row_chunks, read_counts
from scsmd.metrics import labelled, score_clusters
from scsmd.panel import PanelScaling, library_sizes, logexpr_panel, match_panel

log = logging.getLogger(__name__)

CLUSTER_KEY = "scsmd_cluster"
N_REFERENCE_CELLS = 1024  # training inputs kept in the bundle for export checks
# below it the default's clusters trailed KMeans on principal components on some real sets (bench/README.md)
SMALL_SET_CELLS = 500


def _source_name(layer: str | None) -> str:
    """Where an AnnData's counts are read, for messages."""
    return "X" if layer is None else f"layer {layer!r}"


def _counts_only(adata: ad.AnnData, layer: str | None) -> ad.AnnData:
    """The counts to train on, checked as `read_counts` checks a file's: `adata` itself when they are its X under
    unique gene names, else a light AnnData of them beside its obs, the names made unique as `read_counts` does."""
    counts = adata.X if layer is None else count_matrix(adata, layer)
    check_counts(counts, _source_name(layer), tuple(adata.layers))
    if layer is None and adata.var_names.is_unique:
        return adata
    if not adata.var_names.is_unique:
        log.warning("gene names are not unique; repeats are trained as NAME-1, NAME-2, ... (var_names_make_unique)")
    return ad.AnnData(counts, obs=adata.obs, var=pd.DataFrame(index=ad.utils.make_index_unique(adata.var_names)))


def _check_label_key(adata: ad.AnnData, label_key: str | None) -> None:
    """Refuse a label key that is not an obs column or holds fewer than two labels; say how many cells lack one."""
    if label_key is None:
        return
    if label_key not in adata.obs:
        raise ScsmdError(f"label key {label_key!r} is not in obs (columns: {', '.join(map(str, adata.obs.columns)) or 'none'}); "
                         "give an existing column with --label-key")
    known = labelled(adata.obs[label_key])
    n_labels = adata.obs[label_key][known].nunique()
    if n_labels < 2:
        raise ScsmdError(f"label key {label_key!r} holds {n_labels} distinct label(s); scoring and naming clusters need "
                         "at least two: give another --label-key or leave it out")
    if not known.all():
        log.warning("%d of %d cells have no %r label; they are left out of scores (and, in training, of "
                    "cluster names and the label head)",
                    int((~known).sum()), len(known), label_key)


def preprocess(adata: ad.AnnData, *, config: PreprocessConfig = PreprocessConfig(), layer: str | None = None,
               copy: bool = False) -> ad.AnnData | None:
    """The method's preprocessing: keep the panel genes, log-normalized in X, raw counts in a layer.

    Parameters
    ----------
    adata
        Raw counts in ``X`` (or in ``layers[layer]``), cells x genes.
    config
        Panel size, gene filter, target sum, gene ranking (`scale` does not apply here: X stays log-normalized, as
        scanpy keeps it before `sc.pp.scale`; training scales the panel itself).
    layer
        The layer that holds the raw counts, when X does not.
    copy
        Return a modified copy instead of changing ``adata``.

    Returns
    -------
    ``None``, or the copy if ``copy=True``. Subsets to the panel genes (the image's in input order, then the dense
    branch's) and sets ``X`` (log1p of counts per ``target_sum``), ``layers['counts']``, ``obs['library_size']``
    (over all genes), ``obs['size_factors']``, ``var['scsmd_panel']`` and ``uns['scsmd_preprocess']['params']``.
    Repeated gene names are made unique first (``var_names_make_unique``).
    """
    from scsmd.train.preprocess import resolved, select_panel, size_factors

    adata = adata.copy() if copy else adata
    if not adata.var_names.is_unique:  # the panel is chosen and subset by name
        log.warning("gene names are not unique; making them unique (NAME-1, NAME-2, ...) as var_names_make_unique")
        adata.var_names_make_unique()
    source = _counts_only(adata, layer)
    counts = sp.csr_matrix(source.X, dtype=np.float32)
    config = resolved(config, source)
    panel = select_panel(source, config)
    match = match_panel(list(adata.var_names), panel)
    logexpr = logexpr_panel(counts, match, target_sum=config.target_sum)
    adata.obs["library_size"] = library_sizes(counts)
    adata.obs["size_factors"] = size_factors(counts)
    adata._inplace_subset_var(match.columns)
    adata.layers["counts"] = counts[:, match.columns]
    adata.X = logexpr
    adata.var["scsmd_panel"] = True
    adata.uns["scsmd_preprocess"] = {"params": to_dict(config)}
    return adata if copy else None


def _scaling_fields(scaling: PanelScaling | None) -> dict[str, Any]:
    """The manifest's record of the per-gene scaling new cells must get (nothing when the panel is unscaled)."""
    if scaling is None:
        return {}
    return {"gene_mean": scaling.mean.tolist(), "gene_std": scaling.std.tolist()}


def _cluster_labels(adata: ad.AnnData, clusters: np.ndarray, n_clusters: int, label_key: str) -> list[dict[str, Any]]:
    """Each cluster's majority reference label among its labelled cells and their purity (naming only, after
    training)."""
    known = labelled(adata.obs[label_key])
    truth = adata.obs[label_key].to_numpy()[known].astype(str)
    entries = []
    for k in range(n_clusters):
        members = truth[clusters[known] == k]
        if len(members) == 0:
            entries.append({"cluster": k, "label": "unassigned", "purity": 0.0, "n_cells": 0})
            continue
        values, counts = np.unique(members, return_counts=True)
        best = counts.argmax()
        entries.append({"cluster": k, "label": str(values[best]), "purity": float(counts[best] / len(members)),
                        "n_cells": int(len(members))})
    return entries


def _fit_label_head(adata: ad.AnnData, latent: np.ndarray, label_key: str, head_genes: list[str],
                    preprocess_config: PreprocessConfig, train_config: TrainConfig,
                    model_config: ModelConfig) -> tuple[LabelHead, float]:
    """The label head on the frozen latent and its own HVGs (`head_genes`, chosen on every cell, label-free),
    fitted on the labelled cells, and its accuracy on them."""
    from scsmd.train.label_head import fit_label_head, latent_weights

    known = labelled(adata.obs[label_key])
    truth = adata.obs[label_key].to_numpy()[known].astype(str)
    head_logexpr = logexpr_panel(adata.X[known], match_panel(list(adata.var_names), head_genes),
                                 target_sum=preprocess_config.target_sum)
    head = fit_label_head(head_logexpr, latent[known], truth, head_genes, train_config.label_head_c,
                          novelty_quantile=train_config.novelty_quantile, seed=train_config.seed,
                          weights=latent_weights(model_config))
    return head, float((head.predict(head.gene_logits(head_logexpr), latent[known])[0] == truth).mean())


def train(
    adata: ad.AnnData,
    *,
    n_clusters: int | None = None,
    bundle_dir: str | Path | None = None,
    label_key: str | None = None,
    preprocess_config: PreprocessConfig = PreprocessConfig(),
    model_config: ModelConfig | None = None,
    train_config: TrainConfig = TrainConfig(),
    overwrite: bool = False,
    key_added: str = "X_scsmd",
    layer: str | None = None,
    on_epoch: Callable[[dict], None] | None = None,
):
    """Train scSMD on raw counts, cluster the cells, and write a model bundle.

    Parameters
    ----------
    adata
        Raw counts in ``X`` (or in ``layers[layer]``), cells x genes. Results are written into it.
    n_clusters
        Number of clusters K; ``None`` estimates it after pretraining: the communities Leiden finds on the latent's
        15-NN graph at ``train_config.leiden_resolution`` (0.5), recorded in ``uns['scsmd']`` and the bundle.
    bundle_dir
        Folder of the model bundle to write; ``None`` writes none.
    label_key
        obs column of reference labels, used after training only: to name clusters, score them, and fit the label
        head (a classifier on the frozen latent that ``embed`` uses to name new cells).
    preprocess_config, model_config, train_config
        Stage configurations; ``model_config.n_clusters`` is set from ``n_clusters``.
    overwrite
        Replace an existing bundle.
    key_added
        obsm key of the latent.
    layer
        The layer that holds the raw counts, when X does not (scanpy and scvi-tools keep them in
        ``layers['counts']`` beside log-normalized X).
    on_epoch
        Called with a record (stage, epoch, n_epochs, loss, cells_per_s) after every epoch.

    Returns
    -------
    The ``TrainResult``. Sets ``adata.obsm[key_added]`` (float32, n x latent_dim), ``adata.obs['scsmd_cluster']``
    (categorical) and ``adata.uns['scsmd']`` (model name, params, timings: seconds per stage and per step between
    them, metrics where labels were given).

    Raises
    ------
    ScsmdError
        K < 2 or K > number of cells, unknown label key, an existing bundle.
    """
    timer = StageTimer()
    with timer("imports"):  # the training code and PyTorch, on a first call
        from scsmd.train.bundle_io import save_weights
        from scsmd.train.n_clusters import estimate_source
        from scsmd.train.preprocess import (in_input_order, panel_from_ranking, panel_ranks, ranked_genes, resolved,
                                            training_data)
        from scsmd.train.trainer import train_model

    if n_clusters is not None and not 2 <= n_clusters <= adata.n_obs:
        raise ScsmdError(f"--n-clusters must be between 2 and the number of cells ({adata.n_obs}), got {n_clusters}")
    _check_label_key(adata, label_key)
    if bundle_dir is not None:
        check_writable(bundle_dir, overwrite)
    with timer("panel"):
        counts = _counts_only(adata, layer)
        preprocess_config = resolved(preprocess_config, counts)  # the bundle records the ranking used
        head_wanted = bool(label_key) and bundle_dir is not None  # the head lives in the bundle; nothing else uses it
        n_ranked = max(panel_ranks(preprocess_config), train_config.label_head_genes if head_wanted else 0)
        ranked = ranked_genes(counts, n_ranked, preprocess_config)  # once, for the panel and the label head
        panel = panel_from_ranking(ranked, counts, preprocess_config)
        side = preprocess_config.image_side(len(panel))
        model_config = dataclasses.replace(model_config or ModelConfig(), n_clusters=n_clusters, image_side=side,
                                           dense_genes=len(panel) if preprocess_config.dense_genes else 0)
        data = training_data(counts, panel, preprocess_config)
    log.info("training on %d cells x %d panel genes, K=%s", data.n_cells, len(panel), n_clusters or "estimated")
    if data.n_cells < SMALL_SET_CELLS:
        log.warning("only %d cells: under %d, scsmd's clusters were measured behind KMeans on principal components "
                    "on some real data sets (bench/README.md, small sets); compare them with scanpy's before relying "
                    "on them", data.n_cells, SMALL_SET_CELLS)
    result = train_model(data, model_config, train_config, on_epoch)
    k_source = "given" if n_clusters else estimate_source(train_config.leiden_resolution)
    model_config = result.model.config  # with the estimated K
    n_clusters = model_config.n_clusters

    quantiles = distance_quantiles(result.latent, result.labels, result.centroids,
                                   tuple(sorted({*QUANTILES, train_config.novelty_quantile})))
    novelty_radius = quantiles[str(train_config.novelty_quantile)]
    cluster_labels = _cluster_labels(adata, result.labels, n_clusters, label_key) if label_key else None
    metrics = score_clusters(adata.obs[label_key], result.labels) if label_key else None
    head, head_accuracy = None, None
    if head_wanted:
        with timer("label_head"):
            head_genes = in_input_order(ranked[:train_config.label_head_genes], counts)
            head, head_accuracy = _fit_label_head(counts, result.latent, label_key, head_genes, preprocess_config,
                                                  train_config, model_config)

    adata.obsm[key_added] = result.latent.astype(np.float32)
    adata.obs[CLUSTER_KEY] = pd.Categorical(result.labels.astype(str), categories=[str(k) for k in range(n_clusters)])
    name = Path(bundle_dir).name if bundle_dir is not None else None
    stages: dict[str, float] = {}
    for record in result.history:  # the stages' epochs, summed
        stages[record["stage"]] = stages.get(record["stage"], 0.0) + record["seconds"]
    timings = {"imports": timer.seconds["imports"], "panel": timer.seconds["panel"], **stages, **result.timings,
               **timer.seconds}  # imports, panel, stages, the steps between them, label head
    adata.uns["scsmd"] = {"model": name or "", "params": {"preprocess": to_dict(preprocess_config),
                                                         "model": to_dict(model_config), "train": to_dict(train_config)},
                          "timings": timings, "n_clusters": n_clusters, "n_clusters_source": k_source}
    if metrics:
        adata.uns["scsmd"]["metrics"] = metrics

    if bundle_dir is not None:
        manifest = {
            "scsmd_version": __version__,
            "panel": panel,
            "preprocess": {**to_dict(preprocess_config), "image_side": side, "log1p": True,
                           "library_size": "all input genes", "n_panel_genes": len(panel), "padded": len(panel) < side**2,
                           "n_inputs": model_config.n_inputs,
                           **_scaling_fields(data.scaling)},
            "model": to_dict(model_config),
            "train": to_dict(train_config),
            "n_clusters": n_clusters,
            "n_clusters_source": k_source,
            "latent_dim": model_config.embedding_dim,
            "fuzzifier": train_config.fuzzifier,
            "centroids": result.centroids.tolist(),
            "cluster_sizes": np.bincount(result.labels, minlength=n_clusters).tolist(),
            "distance_quantiles": quantiles,
            "novelty_quantile": train_config.novelty_quantile,
            "novelty_radius": novelty_radius,
            "head_agreement": result.head_agreement,
            "device": result.device,
            "history": result.history,
            "timings_s": timings,
            "label_key": label_key,
            "cluster_labels": cluster_labels,
            "training_metrics": metrics,
            "label_head": None if head is None else {"classes": list(head.classes), "n_genes": len(head.genes),
                                                     "c": train_config.label_head_c,
                                                     "min_confidence": head.min_confidence,
                                                     "training_accuracy": head_accuracy},
        }
        sample = np.random.default_rng(train_config.seed).permutation(data.n_cells)[:N_REFERENCE_CELLS]

        def write_files(folder: Path) -> None:
            save_weights(result.model, folder)
            np.save(folder / REFERENCE_CELLS, data.inputs[np.sort(sample)].numpy(), allow_pickle=False)
            if head is not None:
                head.save(folder / LABEL_HEAD)

        with timer("bundle"):
            write_bundle(bundle_dir, manifest, write_files, overwrite=overwrite)
        timings["bundle"] = timer.seconds["bundle"]  # in the cells' record; the manifest was written inside it
    return result


def export(bundle: Bundle | str | Path, *, config: ExportConfig = ExportConfig()) -> dict[str, Any]:
    """Export a bundle's encoder to ONNX and/or TorchScript, each checked against PyTorch on reference cells, and
    to int8 (CPU) and fp16 (GPU) ONNX models, each shipped only if it keeps ``config.reduced_min_agreement`` of the
    fp32 clusters.

    Returns
    -------
    Per format: file, max |latent diff| and nearest-centroid agreement (int8, fp16: against fp32, with the speed ratio,
    or ``shipped: False`` and the reason); also written into the manifest.

    Raises
    ------
    ScsmdError
        A tampered bundle, or an export that fails its check (then nothing is written).
    """
    from scsmd.train.export import export_bundle

    return export_bundle(_as_bundle(bundle), config)


def _as_bundle(model: Bundle | str | Path) -> Bundle:
    """A loaded bundle from a Bundle or a path."""
    return model if isinstance(model, Bundle) else Bundle.load(model)


def _chunks_of(adata: ad.AnnData, chunk_size: int, layer: str | None = None):
    """(cell names, counts CSR) chunks of an in-memory AnnData, its counts in X or `layer`."""
    counts = adata.X if layer is None else count_matrix(adata, layer)
    for start in range(0, adata.n_obs, chunk_size):
        yield adata.obs_names[start:start + chunk_size], sp.csr_matrix(counts[start:start + chunk_size])


def embed(adata: ad.AnnData, *, model: Bundle | str | Path, config: EmbedConfig = EmbedConfig(),
          key_added: str = "X_scsmd", layer: str | None = None, copy: bool = False) -> ad.AnnData | None:
    """Embed cells with a frozen bundle, assign them to its clusters and carry its labels over.

    Parameters
    ----------
    adata
        Raw counts in ``X`` (or in ``layers[layer]``); genes are matched to the bundle's panel by name.
    model
        A loaded ``Bundle`` or the path of one (verified on load).
    config
        Backend, provider, precision, encoder threads, chunk size and minimum gene overlap.
    key_added
        obsm key of the latent.
    layer
        The layer that holds the raw counts, when X does not.
    copy
        Return a modified copy instead of changing ``adata``.

    Returns
    -------
    ``None``, or the copy if ``copy=True``. Sets ``obsm[key_added]`` (float32, n x latent_dim),
    ``obs['scsmd_cluster']`` (categorical), ``obs['scsmd_confidence']``, ``obs['scsmd_distance']``,
    ``obs['scsmd_novel']`` (with a label head: less sure of its label than the head's ``min_confidence``; without one:
    beyond its cluster's novelty radius), ``obs['scsmd_label']`` where the bundle has labels (with a label head also
    ``obs['scsmd_label_confidence']``, the head's probability of that label), and ``uns['scsmd']`` (model, backend,
    provider, precision, gene overlap, params, seconds per stage).
    """
    bundle = _as_bundle(model)
    adata = adata.copy() if copy else adata
    chunks = checked_chunks(_chunks_of(adata, config.chunk_size, layer), _source_name(layer), tuple(adata.layers))
    result = embed_chunks(chunks, list(adata.var_names), bundle, config)
    _attach(adata, result, bundle, key_added)
    return adata if copy else None


def _attach(adata: ad.AnnData, result: EmbedResult, bundle: Bundle, key_added: str) -> None:
    """Write an embedding's results into an AnnData, dropping an earlier one's (and what was drawn from its latent)."""
    adata.obs.drop(columns=[c for c in RESULT_COLUMNS if c in adata.obs], inplace=True)
    for axis, keys in DERIVED.items():
        for key in keys:
            getattr(adata, axis).pop(key, None)
    adata.obsm[key_added] = result.latent
    for column, values in result.obs(bundle).items():
        adata.obs[column] = values.values
    adata.uns["scsmd"] = result.uns(bundle)


def embed_file(input_path: str | Path, output_path: str | Path, *, model: Bundle | str | Path,
               config: EmbedConfig = EmbedConfig(), results_only: bool = False, transpose: bool = False,
               key_added: str = "X_scsmd", layer: str | None = None, on_chunk: Callable[[int], None] | None = None
               ) -> dict[str, Any]:
    """Stream a file through a frozen bundle and write the cells with their results (or the results only).

    The counts are read from X, or from an .h5ad's ``layers[layer]``. An .h5ad is sliced on disk chunk by chunk and
    each chunk's results are written into the output as they come, so memory stays flat however many cells there are. Returns ``uns['scsmd']`` of the output: model, provider,
    precision, gene overlap, ``n_cells``, ``n_novel`` and the seconds spent reading, normalizing, encoding,
    assigning and writing, and the wall time.
    """
    start = time.perf_counter()
    bundle = _as_bundle(model)
    input_path, output_path = Path(input_path), Path(output_path)
    with atomic_path(output_path) as tmp:
        if is_h5ad(input_path):
            uns = _stream_h5ad(input_path, tmp, bundle, config, results_only, key_added, layer, on_chunk)
        else:
            uns = _embed_in_memory(input_path, tmp, bundle, config, results_only, transpose, key_added, layer, on_chunk)
        uns["timings"]["wall"] = time.perf_counter() - start
        _record_timings(tmp, uns["timings"])
    return uns


def _summary(result: EmbedResult, bundle: Bundle, n_cells: int, n_novel: int, write_seconds: float) -> dict[str, Any]:
    """uns['scsmd'] of a written file: the run, its cell counts and the seconds per stage."""
    timings = {stage: s for stage, s in result.timings.items() if stage != "wall"}
    return {**result.uns(bundle), "n_cells": n_cells, "n_novel": n_novel, "timings": {**timings, "write": write_seconds}}


def _stream_h5ad(source: Path, target: Path, bundle: Bundle, config: EmbedConfig, results_only: bool, key_added: str,
                 layer: str | None, on_chunk: Callable[[int], None] | None) -> dict[str, Any]:
    """Embed an .h5ad chunk by chunk into a copy of it (or a results-only file), writing each chunk as it comes."""
    import shutil

    import h5py

    n_cells, var_names = h5ad_shape(source)
    if n_cells == 0:
        raise ScsmdError(f"{source} holds no cells; give a file with cells")
    return_freed_memory()
    write_start = time.perf_counter()
    if results_only:
        results_skeleton(source, target, config.chunk_size)
    else:
        shutil.copyfile(source, target)
    write_seconds, n_novel, last = time.perf_counter() - write_start, 0, None
    with h5py.File(target, "r+") as f:
        writer = H5adResults(f, n_cells, key_added)
        chunks = iter_row_chunks(source, config.chunk_size, layer=layer)
        for last in iter_embed(chunks, var_names, bundle, config, on_chunk):
            write_start = time.perf_counter()
            writer.append(last.obs(bundle), last.latent)
            n_novel += int(last.novel.sum())
            write_seconds += time.perf_counter() - write_start
        uns = _summary(last, bundle, n_cells, n_novel, write_seconds)
        writer.close(uns)
    return uns


def _embed_in_memory(source: Path, target: Path, bundle: Bundle, config: EmbedConfig, results_only: bool,
                     transpose: bool, key_added: str, layer: str | None, on_chunk: Callable[[int], None] | None
                     ) -> dict[str, Any]:
    """Embed a text table or 10x input, which is read whole, and write it with its results (or the results)."""
    full = read_counts(source, transpose=transpose, layer=layer)
    chunks = checked_chunks(_chunks_of(full, config.chunk_size), str(source))
    result = embed_chunks(chunks, list(full.var_names), bundle, config, on_chunk)
    write_start = time.perf_counter()
    out = ad.AnnData(obs=pd.DataFrame(index=full.obs_names)) if results_only else full
    _attach(out, result, bundle, key_added)
    out.uns["scsmd"] = _summary(result, bundle, out.n_obs, int(result.novel.sum()), 0.0)
    out.write_h5ad(target)
    out.uns["scsmd"]["timings"]["write"] = time.perf_counter() - write_start
    return out.uns["scsmd"]


def _record_timings(path: Path, timings: dict[str, float]) -> None:
    """Replace uns['scsmd']['timings'] of a written .h5ad, once the write itself has been timed."""
    import h5py
    from anndata.io import write_elem

    with h5py.File(path, "r+") as f:
        write_elem(f["uns/scsmd"], "timings", timings)


def count_cells(path: str | Path) -> int:
    """Number of cells in an .h5ad without loading it."""
    return h5ad_shape(path)[0]


def evaluate(adata: ad.AnnData, *, label_key: str, cluster_key: str = CLUSTER_KEY) -> dict[str, float]:
    """ARI, NMI and Hungarian-matched accuracy of ``obs[cluster_key]`` against ``obs[label_key]``."""
    _check_label_key(adata, label_key)
    if cluster_key not in adata.obs:
        raise ScsmdError(f"cluster key {cluster_key!r} is not in obs; run `scsmd train` or `scsmd embed` first, "
                         "or give --cluster-key")
    return score_clusters(adata.obs[label_key], adata.obs[cluster_key])


def load_model(path: str | Path) -> Bundle:
    """Load and verify a model bundle (format version and every sha256)."""
    return Bundle.load(path)


def reference_tables(adata: ad.AnnData, *, key: str = "X_scsmd", cluster_key: str = CLUSTER_KEY
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference's two CSV tables: cell index + latent, and cell index + cluster, in the cells' order."""
    latent = np.asarray(adata.obsm[key])
    uspace = pd.DataFrame(latent, index=adata.obs_names, columns=[f"latent_{i + 1}" for i in range(latent.shape[1])])
    clusters = pd.DataFrame({"cluster": adata.obs[cluster_key].astype(str).to_numpy()}, index=adata.obs_names)
    return uspace, clusters
