"""The `scsmd` command line: each command parses options, calls one api function and prints one summary."""
from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scsmd import api
from scsmd.atomic import file_in_the_way
from scsmd.config import (EXPORT_FORMATS, EmbedConfig, ExportConfig, ModelConfig, PreprocessConfig, TrainConfig,
                          model_preset, preprocess_preset, preset as train_preset)
from scsmd.errors import ScsmdError
from scsmd.infer.timing import StageTimer
from scsmd.io import is_h5ad, read_counts, read_h5ad, write_csv, write_h5ad
from scsmd.plot import check_figure_path, plot_contingency, plot_file, plot_training, plot_umap

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="scSMD single-cell clustering: train a model bundle, export it, embed new cells.")
stderr = Console(stderr=True)
HVG_FLAVOR_HELP = ("How the panel genes are ranked: auto (seurat_v3 on UMI counts, seurat_v3_pca where the median "
                   "cell holds more than 10 counts a detected gene, as read counts do), seurat_v3 (on raw counts), "
                   "seurat (on log data, method.md's UMI choice and the reference preset's), or seurat_v3_pca (the "
                   "image's genes by the mean of a gene's seurat_v3 place and its place by the share of it the first "
                   "50 principal components hold, the dense branch's by its seurat_v3 place and the share the image "
                   "genes' components hold; bench/README.md).")
SCALE_HELP = ("Standardize each panel gene (training mean and sd, clipped at 10, as sc.pp.scale) before the network; "
              "default: the preset's (default: on, reference: off).")
LAYER_HELP = "The .h5ad layer that holds the raw counts (e.g. counts, beside log-normalized X); default: X."
DENSE_HELP = ("Panel genes of the dense ZINB branch beside the image (scDeepCluster's network; the image's genes "
              "first; 0: none).")
PLOT_HELP = ("Also write NAME_training.png (each stage's loss by epoch), NAME_umap.png (the latent's UMAP by "
             "cluster and label; kept in obsm['X_scsmd_umap']) and, with --label-key, NAME_contingency.png (each "
             "label's cells in each cluster) beside the output.")
PRESET_HELP = "default, or reference (the paper's 20+20+20 schedule, latent 10, on seurat genes, unscaled)."


@app.callback()
def _logging(quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
             verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug messages.")) -> None:
    """Send library logs to stderr through rich."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=stderr, show_path=False)],
                        force=True)


@contextlib.contextmanager
def _stage_bars() -> Iterator:
    """A rich progress bar per training stage, shown from the first stage on; yields the on_epoch callback."""
    columns = [TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[speed]} cells/s"), TimeElapsedColumn()]
    progress = Progress(*columns, console=stderr)
    tasks: dict[str, int] = {}

    def on_epoch(record: dict) -> None:
        if not tasks:
            progress.start()
        if record["stage"] not in tasks:
            tasks[record["stage"]] = progress.add_task(record["stage"], total=record["n_epochs"], loss="-", speed="-")
        if record["epoch"] > 0:
            progress.update(tasks[record["stage"]], advance=1, loss=f"{record['loss']:.4g}",
                            speed=f"{record['cells_per_s']:.0f}")

    try:
        yield on_epoch
    finally:
        if tasks:
            progress.stop()


@contextlib.contextmanager
def _cell_bar(total: int | None) -> Iterator:
    """A progress bar over cells; yields the on_chunk callback."""
    columns = [TextColumn("embed"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]} cells/s"),
               TimeElapsedColumn()]
    with Progress(*columns, console=stderr) as progress:
        task = progress.add_task("embed", total=total, rate="-")

        def on_chunk(n_cells: int) -> None:
            progress.update(task, advance=n_cells)
            done = progress.tasks[task]
            progress.update(task, rate=f"{done.completed / max(done.elapsed or 0.0, 1e-9):.0f}")

        yield on_chunk


def _stem(path: Path) -> str:
    """A file's name before its first dot (cells.h5ad.gz -> cells): the default name of what a command writes."""
    return path.name.split(".")[0]


def _refuse_existing(path: Path, force: bool, option: str = "-o") -> None:
    """Existing output files are kept unless --force; a folder is never replaced by a file."""
    if path.is_dir():
        raise ScsmdError(f"{option} {path} is a folder; give the path of a file to write")
    if blocked := file_in_the_way(path):
        raise ScsmdError(f"{blocked} is a file, so {option} {path} cannot be written; choose another {option}")
    if path.exists() and not force:
        raise ScsmdError(f"{path} already exists; choose another {option} or pass --force to replace it")


def _run_outputs(output: Path, name: str, plot: bool, label_key: Optional[str]) -> list[Path]:
    """Every file a training run writes beside its bundle: the cells, the reference's CSVs and the figures."""
    paths = [output, output.parent / f"{name}_uspace.csv", output.parent / f"{name}_clusters.csv"]
    if plot:
        paths += [output.parent / f"{name}_{figure}.png" for figure in ("training", "umap")]
        paths += [output.parent / f"{name}_contingency.png"] if label_key else []
    return paths


def _write_reference_csvs(adata, folder: Path, name: str) -> None:
    """NAME_uspace.csv and NAME_clusters.csv in the reference's format."""
    uspace, clusters = api.reference_tables(adata)
    write_csv(uspace, folder / f"{name}_uspace.csv")
    write_csv(clusters, folder / f"{name}_clusters.csv")


def _train_and_write(adata, *, name: str, n_clusters: Optional[int], models_dir: Path, label_key: Optional[str], output: Optional[Path],
                     force: bool, do_export: bool, preprocess_config: PreprocessConfig, model_config: ModelConfig,
                     train_config: TrainConfig, started: float, layer: Optional[str] = None, plot: bool = False) -> None:
    """Shared tail of `train` and `demo`: train with progress bars, write outputs (with `plot`, the figures too), print
    the summary and where the time since `started` (before reading the input) went."""
    read_seconds = time.perf_counter() - started
    output = output or Path(f"{name}_scsmd.h5ad")
    bundle_dir = (models_dir / name).resolve()
    if bundle_dir == output.resolve() or bundle_dir in output.resolve().parents:  # the bundle's folder is replaced whole
        raise ScsmdError(f"-o {output} is in the bundle's folder {models_dir / name}; write the cells elsewhere "
                         f"(default {name}_scsmd.h5ad)")
    for path in _run_outputs(output, name, plot, label_key):
        _refuse_existing(path, force)
    with _stage_bars() as on_epoch:
        result = api.train(adata, n_clusters=n_clusters, bundle_dir=models_dir / name, label_key=label_key,
                           preprocess_config=preprocess_config, model_config=model_config, train_config=train_config,
                           overwrite=force, layer=layer, on_epoch=on_epoch)
    timer = StageTimer()
    if plot:  # before writing, so that the cells' file keeps the UMAP
        with timer("plot"):
            _plot_training_run(adata, result.history, output.parent, name, label_key, train_config.seed)
    with timer("write"):  # before the export, so that a failed export leaves the training's outputs whole
        write_h5ad(adata, output)
        _write_reference_csvs(adata, output.parent, name)
    if do_export:
        with timer("export"):
            api.export(models_dir / name)
    typer.echo(f"bundle {models_dir / name}  cells {output}  csv {output.parent / (name + '_uspace.csv')}, "
               f"{output.parent / (name + '_clusters.csv')}")
    timings = {"read": read_seconds, **adata.uns["scsmd"]["timings"], **timer.seconds}
    typer.echo(_time_split({**timings, "wall": time.perf_counter() - started}, adata.n_obs))
    if n_clusters is None:
        typer.echo(f"K {adata.uns['scsmd']['n_clusters']} ({adata.uns['scsmd']['n_clusters_source']})")
    metrics = adata.uns["scsmd"].get("metrics")
    if metrics:
        typer.echo(f"ARI {metrics['ari']:.3f}  NMI {metrics['nmi']:.3f}  ACC {metrics['acc']:.3f}  (against {label_key})")


def _plot_training_run(adata, history: list[dict], folder: Path, name: str, label_key: Optional[str], seed: int) -> None:
    """NAME_training.png (each stage's loss by epoch), NAME_umap.png (the latent's UMAP by cluster and label) and,
    with labels, NAME_contingency.png (each label's cells in each cluster)."""
    figures = [plot_training(history, folder / f"{name}_training.png"),
               plot_umap(adata, folder / f"{name}_umap.png",
                         color=["scsmd_cluster", *([label_key] if label_key else [])], random_state=seed)]
    if label_key:
        figures.append(plot_contingency(adata, folder / f"{name}_contingency.png", label_key=label_key,
                                        scores=adata.uns["scsmd"]["metrics"]))  # training scored the clusters
    typer.echo(f"figures {', '.join(map(str, figures))}")


@app.command()
def preprocess(
    input: Path = typer.Argument(..., help="Counts: .h5ad, 10x mtx folder, 10x .h5, .csv or .txt (optionally .gz)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output .h5ad: panel genes, log values in X, counts in layers."),
    hvg_flavor: str = typer.Option(PreprocessConfig.hvg_flavor, "--hvg-flavor", help=HVG_FLAVOR_HELP + " Default: auto."),
    n_genes: int = typer.Option(PreprocessConfig.n_genes, "--n-genes", help="Panel size: up to 784 the 28x28 image, up to 1024 the 32x32 one."),
    dense_genes: int = typer.Option(PreprocessConfig.dense_genes, "--dense-genes", help=DENSE_HELP + " Default: 2000."),
    transpose: bool = typer.Option(False, "--transpose", help="The text table is genes x cells."),
    layer: Optional[str] = typer.Option(None, "--layer", help=LAYER_HELP),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Also write the reference's CSV (cells x genes, log values)."),
    force: bool = typer.Option(False, "--force", help="Replace existing outputs."),
) -> None:
    """The method's preprocessing: gene filter, normalize + log1p, top highly variable genes."""
    config = PreprocessConfig(n_genes=n_genes, dense_genes=dense_genes, hvg_flavor=hvg_flavor)
    _refuse_existing(output, force)
    if csv is not None:
        _refuse_existing(csv, force, "--csv")
    adata = read_counts(input, transpose=transpose, layer=layer)
    api.preprocess(adata, config=config, layer=layer)
    write_h5ad(adata, output)
    if csv is not None:
        write_csv(adata.to_df(), csv)
    typer.echo(f"{output}: {adata.n_obs} cells x {adata.n_vars} panel genes")


@app.command()
def train(
    input: Path = typer.Argument(..., help="Counts: .h5ad, 10x mtx folder, 10x .h5, .csv or .txt (optionally .gz)."),
    n_clusters: Optional[int] = typer.Option(None, "--n-clusters", "-k", help="Number of clusters K (default: estimated after pretraining, the communities Leiden finds on the latent's 15-NN graph)."),
    resolution: Optional[float] = typer.Option(None, "--resolution", help="Leiden's resolution when K is estimated (default 0.5; higher: more clusters)."),
    name: Optional[str] = typer.Option(None, "--name", help="Bundle name (default: the input's stem)."),
    models_dir: Path = typer.Option(Path("models"), "--models-dir", help="Folder that holds bundles."),
    label_key: Optional[str] = typer.Option(None, "--label-key", help="obs column naming clusters after training; never trains."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output .h5ad (default NAME_scsmd.h5ad)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu or cuda."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed repeats a run on the same device exactly."),
    preset: str = typer.Option("default", "--preset", help=PRESET_HELP),
    pretrain_epochs: Optional[int] = typer.Option(None, "--pretrain-epochs", help="Autoencoder pretraining epochs (preset's)."),
    dec_epochs: Optional[int] = typer.Option(None, "--dec-epochs", help="Epochs of the dense branch's DEC clustering stage (preset's)."),
    contrast_weight: Optional[float] = typer.Option(None, "--contrast-weight", help="Weight of the dense branch's neighbour-contrastive term (preset's; 0: ZINB alone)."),
    dec_contrast_weight: Optional[float] = typer.Option(None, "--dec-contrast-weight", help="Weight of that term during the DEC stage (preset's; 0: off)."),
    fuzzy_epochs: Optional[int] = typer.Option(None, "--fuzzy-epochs", help="Fuzzy clustering module epochs (preset's)."),
    cellnet_epochs: Optional[int] = typer.Option(None, "--cellnet-epochs", help="Cellnet module epochs (preset's)."),
    batch_size: int = typer.Option(100, "--batch-size", help="Cells per batch."),
    partition: Optional[str] = typer.Option(None, "--partition", help="The final clusters: mixture (Lloyd steps from the last stage's clusters, refined by a Gaussian mixture: each cluster its own spread; the default), lloyd (those Lloyd steps alone; the reference preset's) or average (average linkage: keeps wide types whole; better where types are well separated, worse where they touch; bench/README.md)."),
    bf16: bool = typer.Option(False, "--bf16", help="Pretrain the image autoencoder's convolutions in bfloat16: faster on CPUs with AMX or AVX512-BF16 (pbmc's whole training 0.86x the time on 2 cores), slower on others; mean ARI a little lower on three of four bench sets (bench/README.md)."),
    latent_dim: Optional[int] = typer.Option(None, "--latent-dim", help="Latent size (preset's: 20, reference 10)."),
    likelihood: Optional[str] = typer.Option(None, "--likelihood", help="Count likelihood: zinb or nb (preset's: zinb, reference nb)."),
    dense_members: Optional[int] = typer.Option(None, "--dense-members", help="Dense autoencoders side by side, each its own init, batches and noise (preset's: 2)."),
    n_genes: int = typer.Option(PreprocessConfig.n_genes, "--n-genes", help="Panel size: up to 784 the 28x28 image, up to 1024 the 32x32 one."),
    dense_genes: Optional[int] = typer.Option(None, "--dense-genes", help=DENSE_HELP + " Default: the preset's (default 2000, reference 0)."),
    hvg_flavor: Optional[str] = typer.Option(None, "--hvg-flavor", help=HVG_FLAVOR_HELP + " Default: the preset's (default auto, reference seurat)."),
    scale: Optional[bool] = typer.Option(None, "--scale/--no-scale", help=SCALE_HELP),
    transpose: bool = typer.Option(False, "--transpose", help="The text table is genes x cells."),
    layer: Optional[str] = typer.Option(None, "--layer", help=LAYER_HELP),
    export: bool = typer.Option(False, "--export", help="Also export the encoder, as `scsmd export` does: ONNX and TorchScript, and the int8 and fp16 ONNX models that keep the clusters."),
    plot: bool = typer.Option(False, "--plot", help=PLOT_HELP),
    force: bool = typer.Option(False, "--force", help="Replace an existing bundle and outputs."),
) -> None:
    """Train scSMD on counts, cluster the cells and write a model bundle."""
    if n_clusters is not None and resolution is not None:
        raise ScsmdError("--resolution sets how K is estimated, so it needs no --n-clusters; give one of the two")
    train_config = train_preset(preset, batch_size=batch_size, seed=seed, device=device, pretrain_epochs=pretrain_epochs,
                                leiden_resolution=resolution, dec_epochs=dec_epochs, contrast_weight=contrast_weight,
                                dec_contrast_weight=dec_contrast_weight, fuzzy_epochs=fuzzy_epochs,
                                cellnet_epochs=cellnet_epochs, pretrain_bf16=bf16,
                                final_partition=partition)
    preprocess_config = preprocess_preset(preset, n_genes=n_genes, dense_genes=dense_genes, hvg_flavor=hvg_flavor,
                                          scale=scale)
    # n_clusters is set by api.train
    model_config = model_preset(preset, latent_dim=latent_dim, likelihood=likelihood, dense_members=dense_members)
    name = name or _stem(input)
    started = time.perf_counter()
    adata = read_counts(input, transpose=transpose, layer=layer)
    _train_and_write(adata, name=name, n_clusters=n_clusters, models_dir=models_dir, label_key=label_key,
                     output=output, force=force, do_export=export, preprocess_config=preprocess_config,
                     model_config=model_config, train_config=train_config, started=started, layer=layer, plot=plot)


@app.command()
def demo(
    models_dir: Path = typer.Option(Path("models"), "--models-dir", help="Folder that holds bundles."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu or cuda."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    preset: str = typer.Option("default", "--preset", help=PRESET_HELP),
    plot: bool = typer.Option(False, "--plot", help=PLOT_HELP),
    force: bool = typer.Option(False, "--force", help="Replace an existing demo bundle and outputs."),
) -> None:
    """Train on scanpy's bundled 700-cell PBMC sample (no download), export it, and score it."""
    from scsmd.datasets import pbmc68k_counts

    started = time.perf_counter()
    adata = pbmc68k_counts()
    train_config = train_preset(preset, seed=seed, device=device)
    n_clusters = adata.obs["bulk_labels"].nunique()
    _train_and_write(adata, name="pbmc68k_demo", n_clusters=n_clusters, models_dir=models_dir,
                     label_key="bulk_labels", output=None, force=force, do_export=True,
                     preprocess_config=preprocess_preset(preset), train_config=train_config,
                     model_config=model_preset(preset, n_clusters=n_clusters), started=started, plot=plot)


@app.command()
def evaluate(
    input: Path = typer.Argument(..., help="An .h5ad with clusters and reference labels in obs."),
    label_key: str = typer.Option(..., "--label-key", help="obs column of reference labels."),
    cluster_key: str = typer.Option("scsmd_cluster", "--cluster-key", help="obs column of clusters."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw each label's cells in each cluster to this figure (.png, .pdf or .svg)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing figure."),
) -> None:
    """ARI, NMI and Hungarian-matched accuracy of clusters against labels; with --plot, each label's cells per cluster."""
    if plot is not None:
        check_figure_path(plot)
        _refuse_existing(plot, force, "--plot")
    adata = _read_annotated(input)
    scores = api.evaluate(adata, label_key=label_key, cluster_key=cluster_key)
    typer.echo(json.dumps(scores) if as_json else "  ".join(f"{k.upper()} {v:.4f}" for k, v in scores.items()))
    if plot is not None:
        typer.echo(str(plot_contingency(adata, plot, label_key=label_key, cluster_key=cluster_key, scores=scores)),
                   err=as_json)


def _read_annotated(path: Path):
    """An .h5ad opened backed (clusters and labels live in obs: its genes stay on disk), other formats through
    read_counts."""
    if is_h5ad(path):
        return read_h5ad(path, backed=True)
    return read_counts(path)


@app.command()
def export(
    bundle_dir: Path = typer.Argument(..., help="A model bundle folder (models/NAME)."),
    format: str = typer.Option("all", "--format", help="onnx, torchscript, int8 or fp16 (both from the ONNX encoder), or all."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset."),
) -> None:
    """Export the encoder to ONNX and TorchScript (checked against PyTorch) and to int8 and fp16 ONNX (against fp32)."""
    formats = EXPORT_FORMATS if format == "all" else (format,)
    report = api.export(bundle_dir, config=ExportConfig(formats=formats, opset=opset))
    for fmt in formats:
        r = report[fmt]
        if not r.get("shipped", True):
            typer.echo(f"{fmt} not shipped: {r['reason']}")
            continue
        speed = f", {r['speed_ratio']:.2f}x fp32 speed on {r.get('checked_on', 'one CPU thread')}" if "speed_ratio" in r else ""
        typer.echo(f"{bundle_dir / r['file']}: max |diff| {r['max_abs_diff']:.1e}, "
                   f"cluster agreement {r['cluster_agreement']:.2%} on {r['n_cells_checked']} cells{speed}")


@app.command()
def embed(
    input: Path = typer.Argument(..., help="Counts of new cells: .h5ad (streamed), 10x mtx / .h5, .csv or .txt."),
    model: Path = typer.Option(..., "--model", help="A model bundle folder (models/NAME)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output .h5ad (default INPUT_scsmd.h5ad)."),
    provider: str = typer.Option("auto", "--provider", help="auto (CUDA when it works), cuda or cpu."),
    backend: str = typer.Option("onnx", "--backend", help="onnx (no torch needed) or torchscript."),
    batch_size: int = typer.Option(4096, "--batch-size", help="Cells per chunk."),
    min_gene_overlap: float = typer.Option(0.5, "--min-gene-overlap", help="Refuse inputs with fewer panel genes."),
    precision: str = typer.Option("auto", "--precision", help="auto (the bundle's fp16 on a GPU, int8 on a CPU, else fp32), fp32, int8 or fp16."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Encoder threads (default: the cores this process may use)."),
    results_only: bool = typer.Option(False, "--results-only", help="Write only obs results and the embedding."),
    transpose: bool = typer.Option(False, "--transpose", help="The text table is genes x cells."),
    layer: Optional[str] = typer.Option(None, "--layer", help=LAYER_HELP),
    force: bool = typer.Option(False, "--force", help="Replace existing outputs."),
) -> None:
    """Embed new cells with a frozen model: clusters, confidence, novelty and labels."""
    threads_option = {} if threads is None else {"n_threads": threads}
    config = EmbedConfig(chunk_size=batch_size, backend=backend, provider=provider, min_gene_overlap=min_gene_overlap,
                         precision=precision, **threads_option)
    output = output or Path(f"{_stem(input)}_scsmd.h5ad")
    _refuse_existing(output, force)
    bundle = api.load_model(model)
    total = api.count_cells(input) if is_h5ad(input) else None
    with _cell_bar(total) as on_chunk:
        summary = api.embed_file(input, output, model=bundle, config=config, results_only=results_only,
                                 transpose=transpose, layer=layer, on_chunk=on_chunk)
    typer.echo(f"{output}: {summary['n_cells']} cells, {backend} {summary['precision']} on {summary['provider']}, "
               f"gene overlap {summary['gene_overlap']:.0%}, {summary['n_novel']} novel")
    typer.echo(_time_split(summary["timings"], summary["n_cells"]))


@app.command("plot")
def plot_command(
    input: Path = typer.Argument(..., help="An .h5ad from scsmd train or embed (its latent's UMAP), or a bundle folder (its training losses)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Figure: .png, .pdf or .svg (default INPUT_umap.png, or NAME_training.png for a bundle)."),
    color: Optional[list[str]] = typer.Option(None, "--color", help="obs column to colour by (repeatable; default: scsmd_cluster, scsmd_label, scsmd_novel where present)."),
    use_rep: str = typer.Option("X_scsmd", "--use-rep", help="obsm key of the latent."),
    max_cells: int = typer.Option(50_000, "--max-cells", help="Draw a random subset of this many cells from a larger file."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the subset and the UMAP."),
    force: bool = typer.Option(False, "--force", help="Replace an existing figure."),
) -> None:
    """Draw a UMAP of an output's latent by cluster, label and novelty, or a bundle's training losses."""
    output = output or Path(f"{_stem(input)}_training.png" if input.is_dir() else f"{_stem(input)}_umap.png")
    _refuse_existing(output, force)
    typer.echo(str(plot_file(input, output, color=color, use_rep=use_rep, max_cells=max_cells, random_state=seed)))


def _time_split(timings: dict[str, float], n_cells: int) -> str:
    """One line: seconds per stage, wall time and cells/s (embed's reading and normalizing overlap its encoding)."""
    stages = ", ".join(f"{stage} {seconds:.2f}" for stage, seconds in timings.items() if stage != "wall")
    return f"time s: {stages}; wall {timings['wall']:.2f} ({n_cells / timings['wall']:.0f} cells/s)"


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    try:
        app()
    except ScsmdError as exc:
        stderr.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)  # one line at any width
        sys.exit(2)
