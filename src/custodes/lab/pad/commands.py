"""The `custodes pad train`, `custodes eval pad` and `custodes bench liveness` commands
(bodies in training, evaluation and bench)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

pad_app = typer.Typer(no_args_is_help=True, help="Presentation-attack detection (liveness) model.")

DataDir = Annotated[Path | None, typer.Option("--data", help="NUAA-layout folder (default $CUSTODES_DATA/pad/nuaa-dev)")]


def _check(data: Path | None) -> None:
    if data is not None and not data.is_dir():
        typer.echo(f"error: --data {data} is not a folder", err=True)
        raise typer.Exit(2)


@pad_app.command("train")
def pad_train_command(
    data: DataDir = None,
    out: Annotated[Path | None, typer.Option("--out", help="model file (default: the shipped pad_model.json)")] = None,
) -> None:
    """Rebuild the passive PAD model from the images, deterministically."""
    _check(data)
    from custodes.biometrics.liveness.passive import MODEL_PATH
    from custodes.lab.pad.training import pad_train

    try:
        pad_train(data, out or MODEL_PATH)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def eval_pad_command(
    data: DataDir = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the JSON report here")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="score with this trained model file instead "
                                               "(e.g. the shipped pad_model.json) at its own threshold")] = None,
    tracked: Annotated[bool, typer.Option("--tracked", help="score the box face tracking finds, as in "
                                          "check-ins (training keeps the detector's box)")] = False,
    mirror: Annotated[bool, typer.Option("--mirror/--no-mirror", help="retrained models average the "
                                         "features over the mirror image (ignored with --model)")] = True,
) -> None:
    """APCER and BPCER (ISO/IEC 30107-3) by nested leave-one-subject-out, or of a fixed model."""
    _check(data)
    if model is not None and not model.is_file():
        typer.echo(f"error: --model {model} is not a file", err=True)
        raise typer.Exit(2)
    from custodes.lab.pad.evaluation import eval_pad

    try:
        eval_pad(data, json_out, model_path=model, tracked=tracked, mirror=mirror)
    except (FileNotFoundError, ValueError) as exc:  # ValueError: not a PAD model file
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def bench_liveness_command(
    data: DataDir = None,
    check_ins: Annotated[int, typer.Option("--check-ins", min=1, help="NUAA sequences to use")] = 19,
) -> None:
    """Latency of the liveness decision (JSON), against whole-frame detection in the same run."""
    _check(data)
    from custodes.lab.pad.bench import bench_liveness

    try:
        bench_liveness(data, check_ins)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def eval_challenge_frames_command(
    data: DataDir = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the JSON report here")] = None,
    pairs: Annotated[int, typer.Option("--pairs", min=1, help="LFW dev-train pairs of each kind")] = 400,
) -> None:
    """Fusing the challenge frames: the passive score over the frames (NUAA, nested
    leave-one-subject-out) and every frame verified against the enrolment (LFW pairs)."""
    _check(data)
    from custodes.lab.pad.frame_fusion import eval_challenge_frames

    try:
        eval_challenge_frames(data, json_out, limit=pairs)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
