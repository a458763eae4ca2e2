"""``tune create``'s setup: settings from a YAML file and options, and the data check first."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer
from rich.markup import escape

from tunestudio.cli.common import console, err_console
from tunestudio.errors import ConfigError

if TYPE_CHECKING:
    from tunestudio.data.validate import ValidationReport
    from tunestudio.tuning.spec import TuneSpec


def _flag(field: str) -> str:
    """The option that sets a TuneSpec field."""
    return "--lr" if field == "learning_rate" else "--" + field.replace("_", "-")


def spec_from(config: Path | None, given: dict[str, Any]) -> TuneSpec:
    """The TuneSpec of the config file (if any) with the given options on top, checked."""
    from pydantic import ValidationError

    from tunestudio.tuning.spec import TuneSpec, read_spec_file

    fields = read_spec_file(config) if config else {}
    fields |= given

    def where(field: str) -> str:
        return _flag(field) if field in given or config is None else f"{config}: {field}"

    for required in ("model", "data"):
        if required not in fields:
            raise ConfigError(
                f"no {required} given",
                where=_flag(required),
                hint=f"give {_flag(required)}, or a --config file that sets `{required}:`",
            )
    if not Path(fields["data"]).expanduser().is_file():
        raise ConfigError(
            f"dataset {fields['data']} does not exist",
            where=where("data"),
            hint="give the path of a CLOVA-format .csv/.xlsx/.jsonl file",
        )
    try:
        return TuneSpec(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        raise ConfigError(f"{err['msg']} (got {err.get('input')!r})", where=where(field)) from exc


def check_data(spec: TuneSpec, as_json: bool) -> int:
    """Run the recipe's data validator; on errors print its report and exit 1 (no job made).

    Returns the number of warnings, which do not stop a local run.
    """
    from tunestudio.cli.data.validate import print_report
    from tunestudio.errors import DatasetInvalidError
    from tunestudio.tuning.dataset import validate_data

    try:
        with err_console.status("데이터셋 검사 중…", spinner="dots"):
            return len(validate_data(spec).warnings)
    except DatasetInvalidError as exc:
        report = cast("ValidationReport", exc.report)
        if as_json:
            console.print_json(data=report.to_dict())
        else:
            print_report(report)
        err_console.print(
            f"[red]error:[/] [bold]{escape(report.file)}[/]: 데이터셋에 오류가 "
            f"{len(report.errors)}개 있어 튜닝 작업을 만들지 않았습니다",
            highlight=False,
        )
        err_console.print("[yellow]hint:[/] 위 보고서대로 고친 뒤 다시 실행하세요", highlight=False)
        raise typer.Exit(1) from None
