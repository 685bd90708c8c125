"""The fastinit command line (also python -m fastinit).

  fastinit bench        fastinit against NumPy (and torch) side by side; --model for whole models
  fastinit init PATH    create and fill a .npy file or a safetensors checkpoint of any size with
                        bounded memory, e.g.
                        fastinit init w.npy --shape 50000 16384 --init he_normal --seed 7
                        fastinit init model.safetensors --spec spec.json --seed 0
  fastinit info PATH    shape, dtype, mean, std, min, max, NaN and inf counts, streamed (per
                        tensor, with its recorded init, for a .safetensors file)
  fastinit diagnose     per-layer activation and gradient statistics of an MLP (or a
                        transformers config) under one or more inits, problems flagged, e.g.
                        fastinit diagnose --layers 12 --activation tanh \
                            --init zeros normal:1 normal:0.01 xavier_normal --plot tanh.png

May import: numpy, torch, transformers, fastinit, fastinit._progress, fastinit._tensor_init,
fastinit._version, fastinit.bench.checkpoint, fastinit.bench.cluster, fastinit.bench.fills,
fastinit.bench.model, fastinit.initializers, fastinit.io, fastinit.io.npy, fastinit.io.safetensors,
fastinit.io.spec, fastinit.io.zarr, fastinit.torch.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fastinit._progress import terminal

_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _positive_int(text: str) -> int:
    try:
        value = int(float(text))   # accepts 1e6
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _bytes(text: str) -> int:
    """``65536``, ``64M``, ``1G``, ``512KiB`` ..."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1] if t and t[-1] in _SUFFIXES else ""
    try:
        value = int(float(t[: len(t) - len(unit)]) * _SUFFIXES[unit])
    except (ValueError, OverflowError):                # inf, nan
        raise argparse.ArgumentTypeError(f"not a size in bytes: {text!r} (try 64M)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _region(text: str) -> tuple[slice, ...]:
    """``0:1024,512:`` -> (slice(0, 1024), slice(512, None))."""
    out = []
    for part in text.split(","):
        bits = part.strip().split(":")
        if len(bits) != 2:
            raise argparse.ArgumentTypeError(f"region axes are start:stop, got {part!r}")
        try:
            out.append(slice(*(int(b) if b.strip() else None for b in bits)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a start:stop: {part!r}") from None
    return tuple(out)


def build_parser() -> argparse.ArgumentParser:
    from fastinit._version import __version__
    from fastinit.initializers import NAMES

    parser = argparse.ArgumentParser(prog="fastinit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastinit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="fastinit against NumPy (and torch) side by side")
    bench.add_argument("--size", type=_positive_int, default=None,
                       help="elements per fill (default 2**24; with --dask 2**30, 4 GiB)")
    bench.add_argument("--repeats", type=_positive_int, default=None,
                       help="timed runs per cell; the best is reported (default 5; with --model, "
                            "rounds of fresh processes, default 1)")
    bench.add_argument("--dtype", choices=["float32", "float64", "float16", "bfloat16", "all"],
                       default=None, help="one dtype, or all four (default: float32 and float64)")
    bench.add_argument("--threads", type=_positive_int, default=None,
                       help="threads for the multithreaded column (default: all available)")
    bench.add_argument("--simd", choices=["baseline", "avx2", "avx512"], default=None,
                       help="kernel level to time (default: the best this CPU runs)")
    bench.add_argument("--json", action="store_true", help="print the results as JSON")
    bench.add_argument("--small", action="store_true",
                       help="every method at 1,000 values: time per call against NumPy")
    bench.add_argument("--model", choices=["tinyllama", "small"], default=None,
                       help="instead of the fills, initialize a whole Llama-shaped transformers "
                            "model (tinyllama: 1.1 B parameters, several minutes; small: 20 M) in "
                            "float32 and bfloat16: construction, fast_init, meta + materialize, "
                            "trunc_normal_ (needs torch and transformers)")
    bench.add_argument("--dask", action="store_true",
                       help="instead of the fills, a 4 GiB float32 normal array in 64 MiB chunks "
                            "on a LocalCluster of 2 worker processes: fastinit.dask against Dask's "
                            "own random, in memory and to Zarr (into the current directory), "
                            "beside the disk's plain write and the local threaded fill (needs "
                            "fastinit[dask])")
    bench.add_argument("--checkpoint", choices=["tinyllama", "10b", "small"], default=None,
                       help="instead of the fills, write a Llama-shaped seed checkpoint "
                            "(tinyllama: 4.4 GB in float32, 2.2 GB in bfloat16; 10b: 19.7 GB in "
                            "bfloat16, fastinit and the disk only) into the current directory: "
                            "the disk's plain write rate, write_safetensors, save_initialized, and "
                            "torch's build + safetensors save_file (needs torch, transformers and "
                            "safetensors)")

    init = sub.add_parser("init", help="create and fill a .npy weight file, a .safetensors "
                                       "checkpoint or a .zarr array of any size")
    init.add_argument("path", help="the .npy file, .safetensors checkpoint or .zarr store to "
                                   "write (refused if it exists, unless --force or --resume; "
                                   "another extension is refused)")
    init.add_argument("--spec", default=None,
                      help="(.safetensors) a JSON file listing the tensors and their inits: "
                           '{"tensors": {"name": {"shape": [4096, 1024], "dtype": "float32", '
                           '"init": ["normal_", {"std": 0.02}]}, ...}}; an init in any form of '
                           "the README's section 'Naming an init'")
    init.add_argument("--shape", type=int, nargs="+", default=None,
                      help="(.npy) the tensor's shape, e.g. --shape 4096 1024")
    init.add_argument("--init", default=None,
                      help="(.npy, .zarr) the init, in any form of the README's section "
                           "'Naming an init': a Keras/JAX name (" + ", ".join(NAMES) + "), a "
                           "torch function (kaiming_normal_, 'normal_(std=0.02)'), NAME:VALUE "
                           "(normal:0.01)")
    init.add_argument("--dtype", default=None,
                      choices=["float32", "float64", "float16", "bfloat16"],
                      help="the dtype (.npy: default float32, bfloat16 needs fastinit[bf16]; "
                           ".safetensors: every tensor in it, instead of the spec's dtypes)")
    init.add_argument("--seed", type=int, default=None,
                      help="seed (default: drawn from the OS and recorded for --resume)")
    init.add_argument("--scale", type=float, help="variance scale (variance-scaling inits)")
    init.add_argument("--mode", choices=["fan_in", "fan_out", "fan_avg", "fan_geo_avg"],
                      help="fan mode (variance-scaling inits)")
    init.add_argument("--distribution",
                      help="truncated_normal, untruncated_normal or uniform (variance scaling)")
    init.add_argument("--gain", type=float, help="gain (orthogonal, identity)")
    init.add_argument("--mean", type=float, help="mean (random_normal, truncated_normal)")
    init.add_argument("--stddev", type=float, help="stddev (random_normal, truncated_normal)")
    init.add_argument("--minval", type=float, help="low bound (random_uniform)")
    init.add_argument("--maxval", type=float, help="high bound (random_uniform)")
    init.add_argument("--value", type=float, help="the value (constant)")
    init.add_argument("--chunks", type=int, nargs="+", default=None,
                      help="(.zarr) the Zarr chunk shape, e.g. --chunks 1024 4096 (default: "
                           "whole trailing axes, at most 64 MiB a chunk)")
    init.add_argument("--region", type=_region, default=None,
                      help="write only this block of the tensor, e.g. 0:1024,512: (a shard)")
    init.add_argument("--threads", type=_positive_int, default=None,
                      help="threads (default: the cores available)")
    init.add_argument("--chunk-size", type=_bytes, default=None,
                      help="memory per chunk, e.g. 64M (default 64 MiB)")
    init.add_argument("--resume", action="store_true",
                      help="finish an interrupted fill of PATH (same arguments)")
    init.add_argument("--force", action="store_true", help="replace PATH if it exists")
    bar = init.add_mutually_exclusive_group()
    bar.add_argument("--progress", action="store_true",
                     help="a progress bar for files of 256 MiB and more, with fastinit[progress] "
                          "(the default)")
    bar.add_argument("--no-progress", action="store_true", help="no progress bar")

    info = sub.add_parser("info", help="statistics of a .npy, .safetensors or .zarr file, "
                                       "streamed")
    info.add_argument("path", help="the .npy file, .safetensors checkpoint or .zarr store to "
                                   "summarize")
    info.add_argument("--json", action="store_true", help="print the results as JSON")

    diag = sub.add_parser(
        "diagnose", help="per-layer activation and gradient statistics of a model under an init",
        description="One forward and one backward pass with hooks on every weight layer "
                    "(fastinit.torch.diagnose): activation and gradient std per layer, with "
                    "vanishing, exploding, saturated, dead and symmetric layers flagged.  The "
                    "model is an MLP (--layers, --width, --activation) fed U(-1, 1) inputs, or "
                    "the transformers model of --config fed random token ids.")
    diag.add_argument("--layers", type=_positive_int, default=12, help="MLP depth (12)")
    diag.add_argument("--width", type=_positive_int, default=256, help="MLP width (256)")
    diag.add_argument("--activation", choices=["tanh", "sigmoid", "relu", "selu", "gelu",
                                               "linear"], default="tanh",
                      help="the MLP's activation (tanh)")
    diag.add_argument("--init", nargs="+", default=None, metavar="INIT",
                      help="one or more inits of every Linear weight, compared side by side, in "
                           "any form of the README's section 'Naming an init': torch's "
                           "functions, with or without the _ (xavier_normal, kaiming_normal_, "
                           "'normal_(std=0.01)'), NAME:VALUE for the main argument (normal:0.01, "
                           "xavier_normal:1.667), or a Keras/JAX initializer name (he_normal, "
                           "glorot_uniform, ...), with Keras' fans.  Default: xavier_normal for "
                           "the MLP, the model's own init for --config")
    diag.add_argument("--recipe", nargs="+", default=None, metavar="RECIPE",
                      help="one or more init recipes of published models, compared side by "
                           "side (fastinit.torch.recipes): gpt2, megatron, gpt-neox, "
                           "small_init, olmo, olmo-llama, olmo-llama-depth, t5, deepnet, lsuv "
                           "(mup needs a base model: the Python API)")
    diag.add_argument("--config", metavar="CONFIG_JSON",
                      help="a transformers config.json: build that model on CPU instead")
    diag.add_argument("--batch", type=_positive_int, default=None,
                      help="inputs per pass (MLP: 512 rows; --config: 2 sequences)")
    diag.add_argument("--seq-len", type=_positive_int, default=64,
                      help="--config: tokens per sequence (64)")
    diag.add_argument("--seed", type=int, default=0, help="seed of the inits and inputs (0)")
    diag.add_argument("--plot", metavar="PNG", help="write the figure there (needs matplotlib)")
    diag.add_argument("--json", action="store_true", help="print the results as JSON")
    # Each subcommand's own parser, for errors that should show its usage.
    parser.subcommands = dict(sub.choices)  # type: ignore[attr-defined]
    return parser


# Options that only some initializers take, and which ones.
_OPTIONS = {
    "scale": "VarianceScaling", "mode": "VarianceScaling", "distribution": "VarianceScaling",
    "gain": ("Orthogonal", "Identity"), "mean": ("RandomNormal", "TruncatedNormal"),
    "stddev": ("RandomNormal", "TruncatedNormal"), "minval": "RandomUniform",
    "maxval": "RandomUniform", "value": "Constant",
}


def initializer_from_args(args: argparse.Namespace) -> Any:
    """The initializer the ``init`` options describe: ``--init`` in any form of naming an init
    (README, "Naming an init"), with ``--scale``, ``--mean``, ... (ValueError for what does not
    fit)."""
    from fastinit import initializers as ini
    from fastinit._tensor_init import as_initializer

    base = as_initializer(args.init, "--init")
    config = base.get_config()
    cls_name = type(base).__name__
    given = {k: getattr(args, k) for k in _OPTIONS if getattr(args, k) is not None}
    if isinstance(base, ini.VarianceScaling):
        # A preset with --scale/--mode/--distribution becomes the variance scaling it stands for.
        vs = {"scale": base.scale, "mode": base.mode, "distribution": base.distribution,
              "seed": None}
        if any(k in given for k in ("scale", "mode", "distribution")):
            config, cls_name = vs, "VarianceScaling"
    for key, value in given.items():
        owners = _OPTIONS[key]
        if cls_name not in (owners if isinstance(owners, tuple) else (owners,)):
            hint = (f"; give {base.form.name}'s arguments in --init, e.g. --init "
                    f"'{base.form.name}(ARG=VALUE)'" if isinstance(base, ini.Recipe) else "")
            raise ValueError(f"--{key} does not apply to --init {args.init}{hint}")
        config[key] = value
    if "seed" in config:
        config["seed"] = args.seed
    elif args.seed is not None:
        raise ValueError(f"--seed does not apply to --init {args.init} (it draws nothing)")
    return ini.get({"class_name": cls_name, "config": config})


# What each file command reads or writes, by the path's extension.
KINDS = (".npy", ".safetensors", ".zarr")


def file_kind(path: str, command: str) -> str:
    """".npy", ".safetensors" or ".zarr" for ``path``; ValueError for any other name (a file
    named x.txt is not silently written as a .npy)."""
    for kind in KINDS:
        if path.rstrip("/").lower().endswith(kind):
            return kind
    raise ValueError(f"{path!r}: unknown file type; fastinit {command} takes a .npy file, a "
                     ".safetensors checkpoint or a .zarr store (name the path with one of those "
                     "extensions)")


def _init_command(args: argparse.Namespace) -> int:
    kind = file_kind(args.path, "init")
    if kind == ".safetensors":
        return _init_safetensors(args)
    if args.spec is not None:
        raise ValueError("--spec describes a .safetensors checkpoint; name the file "
                         "*.safetensors (a .npy or .zarr array takes --shape and --init)")
    if args.shape is None or args.init is None:
        raise ValueError("a .npy or .zarr array needs --shape and --init (a .safetensors "
                         "checkpoint takes --spec)")
    if kind == ".zarr":
        return _init_zarr(args)
    if args.chunks is not None:
        raise ValueError("--chunks is for .zarr arrays (a .npy file is written in chunks of "
                         "--chunk-size bytes)")
    return _init_npy(args)


def _init_zarr(args: argparse.Namespace) -> int:
    import os

    import fastinit
    from fastinit._progress import format_bytes
    from fastinit.io import zarr as fz

    for flag, given in (("--region", args.region), ("--chunk-size", args.chunk_size)):
        if given is not None:
            raise ValueError(f"{flag} is for .npy files; a .zarr array is written whole, in "
                             "--chunks")
    obj = initializer_from_args(args)
    if os.path.lexists(args.path) and not (args.force or args.resume):
        raise ValueError(f"{args.path} exists; pass --force to replace it (or --resume to "
                         "finish an interrupted write)")
    if args.threads:
        fastinit.set_num_threads(args.threads)
    result = fz.write_zarr(args.path, args.shape, obj, args.seed, chunks=args.chunks,
                           dtype=args.dtype or "float32", overwrite=args.force,
                           progress=not args.no_progress, resume=args.resume)
    seed = result["initializer"]["config"].get("seed")
    print(f"fastinit init {args.path}: shape {result['shape']} in chunks of {result['chunks']}, "
          f"{result['dtype']}, {result['initializer']['class_name']}, "
          f"{format_bytes(result['bytes'])}" + (", on the dask cluster" if result["dask"] else ""))
    _print_written(result["bytes"], result["seconds"], seed)
    return 0


def _init_npy(args: argparse.Namespace) -> int:
    import math
    import os
    import time

    import fastinit
    from fastinit import io
    from fastinit._progress import format_bytes
    from fastinit.io import npy

    dtype = args.dtype or "float32"
    obj = initializer_from_args(args)
    if args.threads:
        fastinit.set_num_threads(args.threads)
    chunk = args.chunk_size or io.DEFAULT_CHUNK_BYTES
    if os.path.lexists(args.path) and not (args.resume or args.force):
        raise ValueError(f"{args.path} exists; pass --force to replace it (or --resume to finish "
                         "an interrupted fill)")
    # Everything is checked (and the file created and reserved) before anything is printed.
    plan = npy.plan_fill(args.path, args.shape, obj, dtype, seed=None, chunk_bytes=chunk,
                     resume=args.resume, region=args.region)
    what = f"{args.path}: shape {plan.block}"
    if args.region is not None:
        what += f" (region {args.region} of {plan.full})"
    threads = fastinit.get_num_threads()
    print(f"fastinit init {what}, {dtype}, {plan.obj!r}, "
          f"{format_bytes(plan.dt.itemsize * math.prod(plan.block))} in chunks of "
          f"{format_bytes(chunk)}, {threads} thread{'s' if threads > 1 else ''}"
          + (", resuming" if args.resume else ""), flush=True)
    t0 = time.perf_counter()
    result = npy.run_fill(plan, progress=not args.no_progress)
    seconds = time.perf_counter() - t0
    seed = result["initializer"]["config"].get("seed")
    _print_written(result["bytes"], seconds, seed)
    return 0


def _print_written(nbytes: int, seconds: float, seed: Any) -> None:
    from fastinit._progress import format_bytes

    rate = format_bytes(nbytes / seconds) + "/s" if seconds > 0 else "instantly"
    print(f"wrote {format_bytes(nbytes)} in {seconds:.2f} s ({rate})"
          + (f", seed {seed}" if seed is not None else ""))


# Options of the .npy form that a spec file replaces.
_NPY_ONLY = ("shape", "init", "region", "chunks") + tuple(_OPTIONS)


def _init_safetensors(args: argparse.Namespace) -> int:
    import os
    import time

    import fastinit
    from fastinit import io
    from fastinit._progress import format_bytes
    from fastinit.io import safetensors as st
    from fastinit.io.spec import read_spec

    given = [name for name in _NPY_ONLY if getattr(args, name) is not None]
    if given:
        raise ValueError(f"--{given[0]} is for .npy files; a .safetensors checkpoint lists its "
                         "tensors, shapes and inits in --spec")
    if args.spec is None:
        raise ValueError("a .safetensors checkpoint needs --spec spec.json (the tensors and "
                         "their inits; see docs/checkpoints.md)")
    tensors, metadata = read_spec(args.spec)
    if os.path.lexists(args.path) and not (args.resume or args.force):
        raise ValueError(f"{args.path} exists; pass --force to replace it (or --resume to finish "
                         "an interrupted write)")
    seed = args.seed
    if seed is None:
        seed = st.recorded_seed(args.path) if args.resume else None
    if seed is None:
        from fastinit.initializers import fresh_seed
        seed = fresh_seed()
    if args.threads:
        fastinit.set_num_threads(args.threads)
    chunk = args.chunk_size or io.DEFAULT_CHUNK_BYTES
    plan = st.plan_write(args.path, tensors, seed, dtype=args.dtype, metadata=metadata,
                    chunk_bytes=chunk, resume=args.resume, overwrite=args.force,
                    where=args.spec)
    threads = fastinit.get_num_threads()
    status = ""
    if args.resume:
        status = ", complete already" if plan.writer.complete else \
            f", resuming at chunk {plan.done + 1} of {len(plan.batches)}"
    print(f"fastinit init {args.path}: {st.describe(plan.entries)}"
          + (f" in {args.dtype}" if args.dtype else "") + f", seed {seed}, chunks of "
          f"{format_bytes(chunk)}, {threads} thread{'s' if threads > 1 else ''}{status}",
          flush=True)
    if plan.writer.complete:
        plan.writer.close()
        print("nothing to write")
        return 0
    t0 = time.perf_counter()
    result = st.run_write(plan, progress=not args.no_progress)
    _print_written(result["bytes"], time.perf_counter() - t0, seed)
    return 0


def _info_command(args: argparse.Namespace) -> int:
    import json

    from fastinit import io

    kind = file_kind(args.path, "info")
    if kind == ".safetensors":
        return _info_safetensors(args)
    if kind == ".zarr":
        from fastinit.io.zarr import zarr_stats

        stats = zarr_stats(args.path, progress=terminal())
    else:
        stats = io.npy_stats(args.path, progress=terminal())
    if args.json:
        print(json.dumps({**stats, "shape": list(stats["shape"])}))
        return 0
    print(f"{stats['path']}: shape {stats['shape']}, dtype {stats['dtype']}")
    if stats.get("incomplete"):
        print("  INCOMPLETE: a fastinit fill of this file was interrupted; finish it with "
              "fastinit init ... --resume (the values below include unwritten zeros)")
    for key in ("mean", "std", "min", "max"):
        print(f"  {key:<5} {stats[key]:.8g}")
    print(f"  at min {stats['fraction_at_min']:.3g}, at max {stats['fraction_at_max']:.3g} "
          "(fraction of values)")
    if stats["finite"] != stats["size"]:
        print(f"  not finite: {stats['nan']} NaN, {stats['posinf']} +inf, {stats['neginf']} -inf "
              "(the statistics above are over the finite values)")
    return 0


def _info_safetensors(args: argparse.Namespace) -> int:
    import json

    from fastinit._progress import format_bytes
    from fastinit.io import safetensors as st

    stats = st.safetensors_stats(args.path, progress=terminal())
    if args.json:
        print(json.dumps(stats))
        return 0
    meta = stats["metadata"]
    rows = stats["tensors"]
    nbytes = sum(r["size"] * st.ITEMSIZE.get(r["dtype"], 0) for r in rows)
    made = (f", written by fastinit {meta['fastinit.version']} with seed {meta.get('fastinit.seed')}"
            if "fastinit.version" in meta else "")
    print(f"{stats['path']}: {len(rows)} tensors, {format_bytes(nbytes)}{made}")
    if stats["incomplete"]:
        print("  INCOMPLETE: a fastinit write of this file was interrupted; finish it with "
              "fastinit init ... --resume (the values below include unwritten zeros)")
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        shape = "x".join(map(str, r["shape"])) or "scalar"
        line = f"  {r['name']:<{width}}  {r['dtype']:<4} {shape:<14}"
        if "mean" in r:
            line += (f" mean {r['mean']:<11.4g} std {r['std']:<10.4g} min {r['min']:<10.4g} "
                     f"max {r['max']:<10.4g}")
            if r["finite"] != r["size"]:
                line += f" ({r['nan']} NaN, {r['posinf']} +inf, {r['neginf']} -inf)"
        if r["init"] is not None:
            line += f"  {st.format_init(r['init'])}"
        print(line.rstrip())
    return 0


def _diagnose_model(args: argparse.Namespace) -> tuple[Any, Any]:
    """The model and inputs ``diagnose`` runs on: the MLP, or the --config model."""
    import numpy as np
    import torch

    import fastinit
    from fastinit import torch as ft

    if args.config is None:
        model = ft.mlp(args.layers, args.width, args.activation)
        inputs = fastinit.Generator(args.seed + 1).uniform(
            -1.0, 1.0, (args.batch or 512, args.width), dtype=np.float32)
        return model, torch.from_numpy(inputs)
    import json

    import transformers

    with open(args.config) as f:
        try:
            spec = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{args.config}: not JSON: {exc}") from None
    if not isinstance(spec, dict) or "model_type" not in spec:
        raise ValueError(f"{args.config}: a transformers config needs a 'model_type'")
    config = transformers.AutoConfig.for_model(**spec)
    # The model's own init, on fastinit's stream under --seed: built on meta and materialized,
    # which runs the model's init code with fastinit's kernels (and skips torch's default init
    # that the model's init would overwrite).
    with torch.device("meta"):
        try:
            built = transformers.AutoModelForCausalLM.from_config(config)
        except ValueError:
            built = transformers.AutoModel.from_config(config)
    own_init = ft.materialize(built, args.seed)
    vocab = getattr(config, "vocab_size", None)
    if not vocab:
        raise ValueError(f"{args.config}: the config has no vocab_size for random input ids")
    ids = fastinit.Generator(args.seed + 1).integers(0, vocab, (args.batch or 2, args.seq_len))
    return own_init, {"input_ids": torch.from_numpy(ids)}


def _diagnose_command(args: argparse.Namespace) -> int:
    import copy
    import json

    from fastinit import torch as ft
    from fastinit._progress import Progress

    inits = args.init or (["xavier_normal"] if args.config is None else [])
    # A transformers model takes a while to build and run: its steps are shown on a terminal.
    bar = Progress(2 + len(inits) + len(args.recipe or []), args.config is not None and terminal(),
                   "diagnose", "steps")
    try:
        bar.update(0, "building the model")
        model, inputs = _diagnose_model(args)
        bar.update(1)
        nonlinearity = args.activation if args.config is None else "relu"
        runs = {}
        for name in inits:                  # checked before anything runs
            bar.update(0, f"init {name}")
            runs[name] = ft.init_mlp(copy.deepcopy(model), name, args.seed, nonlinearity)
            bar.update(1)
        for name in args.recipe or []:
            if name == "mup":
                raise ValueError("--recipe mup needs a base model (its base shapes); use "
                                 "fastinit.torch.recipe(model, 'mup', seed, base=...)")
            bar.update(0, f"recipe {name}")
            options = {"batch": inputs} if name == "lsuv" else {}
            runs[f"recipe {name}"] = ft.recipe(copy.deepcopy(model), name, args.seed, **options)
            bar.update(1)
        if runs:
            label, model = next(iter(runs.items()))
            del runs[label]
        else:
            label = "model's own init"
        bar.update(0, "forward and backward passes")
        result = ft.diagnose(model, inputs, compare=runs, plot=args.plot, label=label)
        bar.update(1)
    finally:
        bar.close()
    if args.json:
        print(json.dumps({run.label: {"rows": run.to_dict(), "blocks": run.blocks_dict(),
                                      "flags": [vars(f) for f in run.flags]}
                          for run in [result, *result.compared.values()]}, indent=2))
    else:
        print(result)
        if args.plot:
            print(f"wrote {args.plot}")
    return 0


def _bench_command(args: argparse.Namespace) -> int:
    """``fastinit bench`` and its variants: fastinit.bench's modules, with progress on a
    terminal."""
    import fastinit
    from fastinit.bench import checkpoint, cluster, fills, model

    threads = args.threads or fastinit.get_num_threads()
    both = ["float32", "bfloat16"]
    if args.small:
        rows = fills.run_small_calls(args.repeats or 7)
        print(json.dumps({"small_calls": rows}, indent=2) if args.json
              else fills.format_small_calls(rows))
        return 0
    if args.dask:
        return cluster.main(args.size or 1 << 30, args.repeats or 3, args.json, sys.stdout,
                            progress=terminal())
    if args.checkpoint:
        default = ["bfloat16"] if args.checkpoint == "10b" else both
        return checkpoint.main(args.checkpoint, _dtypes(args.dtype, default, default), threads,
                               args.json, sys.stdout, rounds=args.repeats or 1,
                               progress=terminal())
    if args.model:
        return model.main(args.model, _dtypes(args.dtype, both, both), threads, args.json,
                          sys.stdout, rounds=args.repeats or 1, progress=terminal())
    dtypes = _dtypes(args.dtype, ["float32", "float64"],
                     ["float32", "float64", "float16", "bfloat16"])
    return fills.main(size=args.size or 1 << 24, repeats=args.repeats or 5, dtypes=dtypes,
                      as_json=args.json, stream=sys.stdout, threads=args.threads,
                      simd=args.simd, progress=terminal())


def _dtypes(given: str | None, default: list[str], every: list[str]) -> list[str]:
    """``--dtype``: none gives ``default``, ``all`` gives ``every``."""
    return {None: default, "all": every}.get(given, [given])  # type: ignore[list-item]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse reports a mistyped option from the top-level parser, with its usage; the
        # usage that helps is the subcommand's.
        subcommand = parser.subcommands[args.command]  # type: ignore[attr-defined]
        subcommand.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "bench":
        flag = next((f" --{f}" for f in ("small", "dask", "checkpoint", "model")
                     if getattr(args, f)), "")
        try:
            return _bench_command(args)
        except (RuntimeError, ImportError) as exc:   # --simd avx512 on an older CPU, no ml_dtypes
            print(f"fastinit bench{flag}: error: {exc}", file=sys.stderr)
            return 2
    command = {"init": _init_command, "info": _info_command,
               "diagnose": _diagnose_command}[args.command]
    try:
        return command(args)
    except (ValueError, TypeError, OSError, ImportError, RuntimeError, OverflowError,
            MemoryError) as exc:
        print(f"fastinit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = "; the same command with --resume finishes it" if args.command == "init" else ""
        print(f"fastinit {args.command}: interrupted{hint}", file=sys.stderr)
        return 130
