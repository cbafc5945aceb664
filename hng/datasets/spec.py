"""What a dataset is: one validated ``DatasetSpec``, shared by ``hng dataset``, ``hng.make_dataset``,
``hng.stream`` and the HTTP API.

Every rule raises an error that names the field; ``DatasetSpec.build`` turns pydantic's errors into one
``SpecError`` (a ``ValueError``) whose message lists each bad field and its rule.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from hng.core.compose import MARGIN
from hng.core.encoding import DEFAULT_JPEG_QUALITY, IMAGE_ENCODINGS, parse_jpeg_quality
from hng.core.params import (
    DEFAULT_SPACING_RANGE,
    FITS,
    MAX_DIGITS,
    MAX_IMAGE_WIDTH,
    MAX_SPACING,
    PRESET_NAMES,
    SPLITS,
    check_int,
    parse_number,
)
from hng.core.seeding import MAX_SEED, new_seed
from hng.datasets.formats import FORMATS
from hng.document.options import (
    DEFAULT_HEIGHT,
    MAX_HEIGHT,
    MIN_HEIGHT,
    NO_RANGE,
    STROKES,
    STYLES,
    document_options,
    parse_appearance,
    parse_geometry,
)
from hng.errors import InvalidInput, blamed_field

FORMAT_NAMES = tuple(FORMATS)

MAX_COUNT = 10**8
MAX_SHARD_SIZE = 100_000
DEFAULT_SHARD_SIZE = 10_000
MAX_NUMBERS = 1_000_000
DEFAULT_DIGITS = (5, 5)
DEFAULT_WIDTH_PER_DIGIT = 28
# Mean width of a digit's ink in MNIST (the 60,000 training digits: 15.7 pixels), for the `pad` rule.
MEAN_DIGIT_WIDTH = 15.7


class SpecError(InvalidInput):
    """A dataset spec broke one or more rules; ``errors`` (``problems``) holds (field, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        message = "; ".join(f"{field}: {rule}" for field, rule in errors)
        super().__init__(errors[0][0] if errors else "spec", message, problems=errors)

    @property
    def errors(self) -> list[tuple[str, str]]:
        return self.problems


def parse_digits(value: Any) -> tuple[int, int]:
    """A length (``5``, ``"5"``) or an inclusive range (``"3-8"``, ``[3, 8]``) of digits per number."""
    if isinstance(value, str):
        text = value.strip(" \t")
        low_text, dash, high_text = text.partition("-")
        parts = [low_text, high_text] if dash else [low_text]
        if not all(p.strip(" ").isascii() and p.strip(" ").isdigit() for p in parts):
            raise ValueError(f"must be a length such as 5 or an inclusive range such as 3-8, got {value!r}")
        value = [int(p) for p in parts]
    elif isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    elif isinstance(value, list | tuple):
        if len(value) not in (1, 2):
            raise ValueError(f"must be a length or a [min, max] pair, got {len(value)} values")
    else:
        raise TypeError(f"must be a length such as 5 or a range such as '3-8' or [3, 8], got {value!r}")
    low = check_int("minimum length", value[0], minimum=1, maximum=MAX_DIGITS)
    high = check_int("maximum length", value[-1], minimum=1, maximum=MAX_DIGITS)
    if low > high:
        raise ValueError(f"the minimum length {low} must not be greater than the maximum {high}")
    return low, high


def read_numbers_file(path: str | os.PathLike[str]) -> list[str]:
    """The numbers of a text file, one per line (blank lines and surrounding spaces ignored)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    numbers = []
    with path.open(encoding="ascii", errors="strict") as handle:
        try:
            for line_number, line in enumerate(handle, 1):
                text = line.strip(" \t\r\n")
                if text:
                    numbers.append(parse_number(text, f"{path.name} line {line_number}"))
        except UnicodeDecodeError:
            raise ValueError(f"{path} must hold ASCII digits, one number per line") from None
    if not numbers:
        raise ValueError(f"{path} holds no numbers")
    return numbers


def _value_errors(check: Any) -> Any:
    """pydantic reports only ValueError and AssertionError as field errors: hng's TypeErrors become those."""

    def wrapped(cls: type, value: Any) -> Any:
        try:
            return check(value)
        except TypeError as error:
            raise ValueError(str(error)) from None

    return classmethod(wrapped)


def _int(name: str, minimum: int, maximum: int) -> Any:
    def check(value: Any) -> Any:
        if value is None:
            return None
        try:
            return check_int(name, value, minimum=minimum, maximum=maximum)
        except (TypeError, ValueError) as error:
            # check_int's message starts with the name; the field's location already gives it.
            raise ValueError(str(error).removeprefix(f"{name} ")) from None

    return _value_errors(check)


class DatasetSpec(BaseModel):
    """One dataset: how many images, which numbers, how they are drawn, and the file format.

    Unset fields get their defaults when the spec is built, and the seed is drawn then: a built spec is
    complete, so it alone (with the hng version and the MNIST file) fixes every byte of the dataset.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    count: Annotated[int, Field(description="Images in the dataset (1 to 10^8)")]
    shard_size: Annotated[int, Field(alias="shardSize", description="Images per shard (1 to 100,000)")] = (
        DEFAULT_SHARD_SIZE
    )
    digits: Annotated[
        tuple[int, int] | None,
        Field(description="Digits per number: a length (5) or an inclusive range ('3-8', [3, 8])"),
    ] = None
    numbers: Annotated[
        tuple[str, ...] | None, Field(description="Explicit numbers instead of random ones (digit strings)")
    ] = None
    numbers_mode: Annotated[
        Literal["cycle", "sample"],
        Field(description="cycle: image i gets numbers[i % len]; sample: uniform draws with replacement"),
    ] = "cycle"
    spacing_min: Annotated[int, Field(description="Smallest gap between digits, pixels")] = (
        DEFAULT_SPACING_RANGE[0]
    )
    spacing_max: Annotated[int, Field(description="Largest gap between digits, pixels (inclusive)")] = (
        DEFAULT_SPACING_RANGE[1]
    )
    image_width: Annotated[int | None, Field(description="One width for every image")] = None
    width_per_digit: Annotated[int | None, Field(description="Width = this × the number's length")] = None
    fit: Annotated[
        Literal[FITS],  # type: ignore[valid-type]
        Field(
            description="stretch: resize to the width; pad: keep the strip, pad with black (squeeze if wider)"
        ),
    ] = "stretch"
    preset: Annotated[Literal[PRESET_NAMES], Field(description="Augmentation preset")] = "none"  # type: ignore[valid-type]
    split: Annotated[Literal[SPLITS], Field(description="MNIST split the digits come from")] = (  # type: ignore[valid-type]
        "train"
    )
    seed: Annotated[int | None, Field(description="Dataset seed (0 to 2^63 - 1); drawn when not given")] = (
        None
    )
    format: Annotated[Literal[FORMAT_NAMES], Field(description="Shard format")] = "npz"  # type: ignore[valid-type]
    compress: Annotated[bool, Field(description="Deflate npz shards")] = False
    masks: Annotated[
        bool,
        Field(
            description="Store each image's per-digit mask (npz, webdataset, imagefolder; coco holds them "
            "as its RLE segmentations)"
        ),
    ] = False
    objects: Annotated[
        Literal["digits", "number", "both"],
        Field(description="Detection objects: one per digit, one per number (class 10), or both"),
    ] = "digits"
    yolo_task: Annotated[
        Literal["detect", "segment"],
        Field(alias="yoloTask", description="yolo format: boxes (detect) or polygons traced from the masks"),
    ] = "detect"
    style: Annotated[
        Literal[STYLES],  # type: ignore[valid-type]
        Field(description="How the digits are inked: mnist (white on black), ink, paper, background"),
    ] = "mnist"
    ink: Annotated[
        str | None,
        Field(description="Ink: black, blue-black, blue, pens (a mix) or #rrggbb; unset: the style's own"),
    ] = None
    background: Annotated[
        str | None,
        Field(description="style background: a folder (or an s3:// prefix) of the user's paper images"),
    ] = None
    rotate: Annotated[
        tuple[float, float],
        Field(description="Rotation of the whole number, degrees: x for [-x, x] or a [low, high] pair"),
    ] = NO_RANGE
    shear: Annotated[
        tuple[float, float],
        Field(description="Horizontal shear of the whole number, degrees: x for [-x, x] or [low, high]"),
    ] = NO_RANGE
    perspective: Annotated[
        tuple[float, float],
        Field(
            description="Perspective: corners moved by up to this fraction of the height (x or [low, high])"
        ),
    ] = NO_RANGE
    elastic: Annotated[
        tuple[float, float],
        Field(description="Elastic wobble amplitude, pixels at MNIST scale (x or [low, high])"),
    ] = NO_RANGE
    height: Annotated[int, Field(description="Image height, pixels (16 to 256); widths scale with it")] = (
        DEFAULT_HEIGHT
    )
    channels: Annotated[
        Literal[1, 3] | None,
        Field(description="1 (grey) or 3 (RGB); unset: 3 for coloured ink, else 1"),
    ] = None
    stroke: Annotated[
        Literal[STROKES],  # type: ignore[valid-type]
        Field(description="natural: each digit as written; uniform: one stroke width per number"),
    ] = "natural"
    image_encoding: Annotated[
        Literal[IMAGE_ENCODINGS],  # type: ignore[valid-type]
        Field(alias="imageEncoding", description="How formats that store encoded images encode them"),
    ] = "png"
    jpeg_quality: Annotated[
        tuple[int, int],
        Field(alias="jpegQuality", description="JPEG quality range, drawn per image (1 to 100)"),
    ] = DEFAULT_JPEG_QUALITY
    verify_labels: Annotated[
        bool,
        Field(
            alias="verifyLabels",
            description="Read every digit back after augmentation; redraw those not read as their label",
        ),
    ] = False
    _seed_drawn: bool = PrivateAttr(default=False)

    _count = field_validator("count", mode="before")(_int("count", 1, MAX_COUNT))
    _shard_size = field_validator("shard_size", mode="before")(_int("shard_size", 1, MAX_SHARD_SIZE))
    _spacing_min = field_validator("spacing_min", mode="before")(_int("spacing_min", 0, MAX_SPACING))
    _spacing_max = field_validator("spacing_max", mode="before")(_int("spacing_max", 0, MAX_SPACING))
    _image_width = field_validator("image_width", mode="before")(_int("image_width", 1, MAX_IMAGE_WIDTH))
    _width_per_digit = field_validator("width_per_digit", mode="before")(
        _int("width_per_digit", 1, MAX_IMAGE_WIDTH)
    )
    _seed = field_validator("seed", mode="before")(_int("seed", 0, MAX_SEED))

    @staticmethod
    def _check_bool(value: Any) -> Any:
        if not isinstance(value, bool):
            raise TypeError(f"must be true or false, got {value!r}")
        return value

    @staticmethod
    def _check_digits(value: Any) -> Any:
        return None if value is None else parse_digits(value)

    @staticmethod
    def _check_numbers(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise TypeError(f"must be a list of numbers, got {type(value).__name__}")
        if not value:
            raise ValueError("must not be empty")
        if len(value) > MAX_NUMBERS:
            raise ValueError(f"may hold at most {MAX_NUMBERS:,} numbers, got {len(value):,}")
        return tuple(parse_number(n, f"numbers[{i}]") for i, n in enumerate(value))

    _compress = field_validator("compress", mode="before")(_value_errors(_check_bool))
    _masks = field_validator("masks", mode="before")(_value_errors(_check_bool))
    _verify_labels = field_validator("verify_labels", mode="before")(_value_errors(_check_bool))
    _digits = field_validator("digits", mode="before")(_value_errors(_check_digits))
    _numbers = field_validator("numbers", mode="before")(_value_errors(_check_numbers))

    @staticmethod
    def _check_geometry(name: str) -> Any:
        return _value_errors(lambda value: parse_geometry(name, value))

    _rotate = field_validator("rotate", mode="before")(_check_geometry("rotate"))
    _shear = field_validator("shear", mode="before")(_check_geometry("shear"))
    _perspective = field_validator("perspective", mode="before")(_check_geometry("perspective"))
    _elastic = field_validator("elastic", mode="before")(_check_geometry("elastic"))
    _height = field_validator("height", mode="before")(_int("height", MIN_HEIGHT, MAX_HEIGHT))
    _jpeg_quality = field_validator("jpeg_quality", mode="before")(
        _value_errors(lambda value: parse_jpeg_quality(value))
    )

    @model_validator(mode="after")
    def _complete(self) -> DatasetSpec:
        if self.digits is not None and self.numbers is not None:
            raise InvalidInput("digits", "digits and numbers exclude each other: give one")
        if self.image_width is not None and self.width_per_digit is not None:
            raise InvalidInput("image_width", "image_width and width_per_digit exclude each other: give one")
        if self.compress and self.format != "npz":
            raise InvalidInput("compress", f"compress applies to the npz format only, not {self.format}")
        self._check_format_options()
        self._check_appearance()
        if self.spacing_min > self.spacing_max:
            raise InvalidInput(
                "spacing_min",
                f"spacing_min ({self.spacing_min}) must not be greater than spacing_max ({self.spacing_max})",
            )
        # Defaults are filled in here, so that the stored spec says everything (frozen: set directly).
        if self.numbers is None and self.digits is None:
            object.__setattr__(self, "digits", DEFAULT_DIGITS)
        if self.image_width is None and self.width_per_digit is None:
            # 28 pixels a digit at MNIST's height, scaled with the height.
            per_digit = round(DEFAULT_WIDTH_PER_DIGIT * self.height / DEFAULT_HEIGHT)
            object.__setattr__(self, "image_width", min(per_digit * self.lengths[1], MAX_IMAGE_WIDTH))
        if self.width_per_digit is not None and self.width_per_digit * self.lengths[1] > MAX_IMAGE_WIDTH:
            raise InvalidInput(
                "width_per_digit",
                f"width_per_digit {self.width_per_digit} × {self.lengths[1]} digits exceeds the largest "
                f"image width, {MAX_IMAGE_WIDTH}",
            )
        if self.fit == "pad":
            self._check_pad_width()
        if self.seed is None:
            object.__setattr__(self, "seed", new_seed())
            self._seed_drawn = True
        return self

    def _check_format_options(self) -> None:
        """Options that only some formats take: refuse them with the others, naming both fields."""
        fmt = FORMATS[self.format]
        if self.yolo_task != "detect" and self.format != "yolo":
            raise InvalidInput("yolo_task", f"yolo_task applies to the yolo format only, not {self.format}")
        if self.masks and not fmt.holds_masks:
            holding = ", ".join(name for name, f in FORMATS.items() if f.holds_masks)
            hint = (
                " (use yolo_task segment for polygons traced from the masks)" if self.format == "yolo" else ""
            )
            raise InvalidInput(
                "masks",
                f"masks cannot be stored in the {self.format} format{hint}; formats that hold them: "
                f"{holding}",
            )
        problem = fmt.options_problem(self)
        if problem is not None:
            raise InvalidInput(*problem)
        if self.objects != "digits" and not fmt.takes_objects:
            taking = ", ".join(name for name, f in FORMATS.items() if f.takes_objects)
            raise InvalidInput(
                "objects",
                f"objects {self.objects!r} needs a format with detection objects ({taking}), "
                f"not {self.format}",
            )

    def _check_appearance(self) -> None:
        """The document options by the rules every entry point shares; fills in the channels."""
        look = parse_appearance(**self.document_options)
        object.__setattr__(self, "channels", look.channels)
        if self.image_encoding != "png" and not FORMATS[self.format].encodes_images:
            raise InvalidInput(
                "image_encoding",
                f"image_encoding {self.image_encoding} needs a format that stores encoded images, "
                f"not {self.format} (it stores the pixels as they are)",
            )
        if self.jpeg_quality != DEFAULT_JPEG_QUALITY and self.image_encoding != "jpeg":
            raise InvalidInput("jpeg_quality", "jpeg_quality applies to image_encoding jpeg only")

    @property
    def document_options(self) -> dict[str, Any]:
        """The document options as ``generate_batch`` takes them (keyword arguments)."""
        return document_options(self)

    @property
    def seed_drawn(self) -> bool:
        """True when no seed was given and this spec drew one (a re-run may then adopt a plan's seed)."""
        return self._seed_drawn

    def _check_pad_width(self) -> None:
        """`pad` squeezes only strips wider than the image; refuse widths that would squeeze them all
        to less than half their natural width (digits unreadable), and say what would do."""
        for length in {self.lengths[0], self.lengths[1]}:
            natural = (
                2 * MARGIN
                + length * MEAN_DIGIT_WIDTH
                + (length - 1) * (self.spacing_min + self.spacing_max) / 2
            ) * (self.height / DEFAULT_HEIGHT)
            width = self.width_for_length(length)
            if width < natural / 2:
                field = "image_width" if self.image_width is not None else "width_per_digit"
                raise InvalidInput(
                    field,
                    f"{field} gives {width} pixels for {length}-digit numbers, too small for fit=pad: "
                    f"their mean natural width is {natural:.0f} pixels; use at least {natural / 2:.0f} "
                    "or fit=stretch",
                )

    @property
    def lengths(self) -> tuple[int, int]:
        """The shortest and longest number of the dataset."""
        if self.numbers is not None:
            sizes = [len(n) for n in self.numbers]
            return min(sizes), max(sizes)
        if self.digits is None:
            raise AssertionError("hng bug: self.digits is unset")
        return self.digits

    def width_for_length(self, length: int) -> int:
        if self.width_per_digit is not None:
            return self.width_per_digit * length
        if self.image_width is None:
            raise AssertionError("hng bug: self.image_width is unset")
        return self.image_width

    @property
    def num_shards(self) -> int:
        return -(-self.count // self.shard_size)

    @classmethod
    def build(cls, **fields: Any) -> DatasetSpec:
        """A complete spec from keyword fields, or ``SpecError`` naming every bad field and its rule."""
        try:
            return cls(**fields)
        except ValidationError as error:
            raise SpecError(_errors(error)) from None

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON-ready data (digits as a [min, max] pair, numbers as a list).

        The fields added after 0.1 are left out while they hold their defaults, so the spec of a dataset
        that does not use them reads (and resumes) as it did before they existed.
        """
        data = self.model_dump(mode="json")
        for name, default in _LATER_DEFAULTS.items():
            if data[name] == default:
                del data[name]
        return data

    def same_data_as(self, other: DatasetSpec) -> bool:
        return self.to_json() == other.to_json()


# Fields added after 0.1 with their defaults as JSON; "channels" 1 is the resolved default.
_LATER_DEFAULTS: dict[str, Any] = {
    "style": "mnist",
    "ink": None,
    "background": None,
    "rotate": list(NO_RANGE),
    "shear": list(NO_RANGE),
    "perspective": list(NO_RANGE),
    "elastic": list(NO_RANGE),
    "height": DEFAULT_HEIGHT,
    "channels": 1,
    "stroke": "natural",
    "image_encoding": "png",
    "jpeg_quality": list(DEFAULT_JPEG_QUALITY),
    "verify_labels": False,
}


def _errors(error: ValidationError) -> list[tuple[str, str]]:
    errors = []
    for item in error.errors(include_url=False):
        message = item["msg"]
        for prefix in ("Value error, ", "Type error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        field = blamed_field(item) or "spec"
        if item["type"] == "extra_forbidden":
            message = "is not a dataset field"
        elif item["type"] == "missing":
            message = "is required"
        elif item["type"] == "literal_error":
            message = f"must be one of {item['ctx']['expected']}, got {item['input']!r}"
        errors.append((field, message))
    return errors
