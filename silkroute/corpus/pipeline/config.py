"""The pipeline file (YAML), validated with pydantic; errors name the field and the reason."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from silkroute.corpus.errors import CorpusError
from silkroute.corpus.pipeline.base import Stage
from silkroute.corpus.pipeline.registry import stage_class
from silkroute.model.errors import SpecError, field_path, file_spec_error, file_where, read_yaml


class StageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class InputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    paths: list[Path] = Field(min_length=1)
    format: Literal["auto", "jsonl", "text", "parquet", "warc"] = "auto"


class OutputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    dir: Path
    format: Literal["parquet", "jsonl.gz"] = "parquet"


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    input: InputConfig
    output: OutputConfig
    stages: list[StageConfig] = Field(min_length=1)
    workers: int = Field(1, ge=1, le=256)
    seed: int = Field(0, ge=0)  # numpy's generators take no negative seed (a worker traceback)
    report: bool = True
    executor: Literal["local", "ray"] = Field(
        "local", description="local: worker processes; ray: one Ray task per shard"
    )
    strict: bool = Field(False, description="stop at the first bad record or unreadable file")
    count_words: bool = Field(
        False, description="words per language in stats (segments every document: slower)"
    )

    def build_stages(self, path: Path | None = None) -> list[Stage]:
        """The stages, their params checked. `path`: the pipeline file the config was read
        from, whose name and lines an error then gives (`pipeline.yaml:7: stages[1]...`)."""
        built: list[Stage] = []
        for i, spec in enumerate(self.stages):
            try:
                cls = stage_class(spec.name, field_path(("stages", i, "name")))
            except CorpusError as exc:
                raise _in_file(exc, path, ("stages", i, "name")) from None
            try:
                params = cls.Params.model_validate(spec.params)
            except ValidationError as exc:
                where = ("stages", i, "params")
                if path is None:
                    raise CorpusError(_first_error(exc, where)) from None
                raise CorpusError(str(file_spec_error(exc, path, where))) from None
            try:
                built.append(cls(params, seed=self.seed))
            except CorpusError as exc:  # a file the stage reads (quality thresholds) names itself
                stage = f"{field_path(('stages', i))} ({spec.name}): {exc}"
                raise _in_file(CorpusError(stage), path, ("stages", i)) from None
        return built


def _in_file(exc: CorpusError, path: Path | None, loc: Sequence[str | int]) -> CorpusError:
    return exc if path is None else CorpusError(f"{file_where(path, loc)}: {exc}")


def _first_error(exc: ValidationError, prefix: Sequence[str | int] = ()) -> str:
    err = exc.errors()[0]
    return f"{field_path((*prefix, *err['loc']))}: {err['msg']}"


def _check_output_apart(path: Path, config: PipelineConfig) -> None:
    """The output folder must be a folder apart from the input: inside an input folder, a rerun
    read its own output as input and then deleted it when it started over (a traceback, the
    finished run lost); an input under the folders a run replaces (`data/` ...) is deleted."""
    from silkroute.corpus.pipeline.layout import Layout  # it imports this module

    out = config.output.dir
    out_at = file_where(path, ("output", "dir"))
    if out.exists() and not out.is_dir():
        raise CorpusError(f"{out_at}: output.dir: {out} is a file, not a folder")
    replaced = [out / name for name in (*Layout.INTERMEDIATE, *Layout.OUTPUTS)]
    for i, source in enumerate(config.input.paths):
        where = field_path(("input", "paths", i))
        if out == source or out.is_relative_to(source):
            raise CorpusError(
                f"{out_at}: output.dir: {out} is inside {where} ({source}): "
                "a rerun would read its own output; choose a folder apart from the input"
            )
        if any(source == r or source.is_relative_to(r) for r in replaced):
            raise CorpusError(
                f"{file_where(path, ('input', 'paths', i))}: {where}: {source} is among the "
                f"files a run in output.dir ({out}) replaces; move the input or choose another "
                "output.dir"
            )


def load_config(path: Path) -> PipelineConfig:
    """Read and validate a pipeline file; relative paths are taken from the file's folder."""
    try:
        raw = read_yaml(path, "pipeline file")  # the project's one YAML reader
    except SpecError as exc:
        raise CorpusError(str(exc)) from None
    if not isinstance(raw, dict):
        raise CorpusError(f"{path}: the pipeline file must be a mapping with input/output/stages")
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise CorpusError(str(file_spec_error(exc, path))) from None
    base = path.resolve().parent
    config.input.paths = [(base / p).resolve() for p in config.input.paths]
    config.output.dir = (base / config.output.dir).resolve()
    _check_output_apart(path, config)
    config.build_stages(path)  # fail on unknown stages / bad params before any work starts
    return config
