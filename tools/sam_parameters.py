"""Write the parameter overrides `make deploy` gives both `sam build` and `sam deploy`.

    .venv-sam/bin/python tools/sam_parameters.py --arch arm64 [--config-file samconfig.toml]
        [--config-env default] [--out build/sam-parameters.yaml]

The file holds the deploy parameter_overrides of samconfig.toml (the `global` and `deploy` sections of the
environment, as the SAM CLI merges them; a list or, as `sam deploy --guided` saves it, one string) with
Architecture set to --arch, as a YAML mapping (JSON). `make deploy` passes it to both commands as
`--parameter-overrides file://build/sam-parameters.yaml`, because:

- `sam build` reads the template's Architecture to pick the image's platform (docker build --platform
  linux/arm64), from its own --parameter-overrides, else the parameter's default: it never reads the
  deploy section, so without this it would build x86_64 whatever the deploy passes;
- --parameter-overrides on the command line replaces samconfig.toml's list instead of adding to it, so
  passing only Architecture=arm64 to `sam deploy` would drop the other values there (a new stack would
  get the template's defaults, an existing one would keep its previous values).

Runs with the SAM CLI's Python (.venv-sam, `make sam-cli`): it reads samconfig.toml with the SAM CLI's own
code, so the file means what `sam deploy` would make of it. Prints one line; bad input: exit 2, one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ARCHITECTURES = ("x86_64", "arm64")  # the template's Architecture parameter's AllowedValues
DEFAULT_OUT = Path("build/sam-parameters.yaml")


def deploy_overrides(config_file: Path, config_env: str) -> dict[str, str]:
    """The parameter overrides `sam deploy --config-env <config_env>` takes from `config_file`."""
    from samcli.cli.types import CfnParameterOverridesType
    from samcli.lib.config.samconfig import SamConfig

    if not config_file.is_file():
        return {}
    config = SamConfig(str(config_file.parent), config_file.name)
    raw = config.get_all(["deploy"], "parameters", config_env).get("parameter_overrides")
    if not raw:
        return {}
    parsed = CfnParameterOverridesType().convert(raw, None, None)
    return {str(key): str(value) for key, value in parsed.items()}


def build_overrides(config_file: Path, config_env: str, arch: str) -> dict[str, str]:
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, not {arch!r}")
    return {**deploy_overrides(config_file, config_env), "Architecture": arch}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", required=True, help="the Architecture parameter: x86_64 or arm64")
    parser.add_argument("--config-file", type=Path, default=Path("samconfig.toml"))
    parser.add_argument("--config-env", default="default")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        overrides = build_overrides(args.config_file, args.config_env, args.arch)
    except Exception as error:  # SAM's own errors (click.BadParameter, TOML parse errors) too: one line
        message = getattr(error, "message", None) or str(error)
        print(f"sam-parameters: error: {args.config_file} [{args.config_env}]: {message}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(overrides, indent=2) + "\n")
    print(
        f"sam-parameters: {args.out}: Architecture={args.arch} and {len(overrides) - 1} more from "
        f"{args.config_file} [{args.config_env}] (for sam build and sam deploy)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
