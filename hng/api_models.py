"""Request and response models of the HTTP API and of direct invocation.

The same models validate API Gateway requests (through Powertools' validation, which also generates the
OpenAPI document from them) and plain events from other AWS services. The rules are hng.params' rules,
so the library, the CLI and the API accept exactly the same values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from hng.params import (
    DEFAULT_PRESET,
    DEFAULT_SPACING_RANGE,
    MAX_IMAGE_WIDTH,
    MAX_SPACING,
    PRESET_NAMES,
    SPLITS,
    parse_flag,
    parse_number,
)
from hng.seeding import MAX_SEED

# The string forms of a flag, for the OpenAPI document: "true"/"false"/"1"/"0" in any case (JSON Schema
# patterns have no case-insensitive flag, hence the character classes).
FLAG_STRING_PATTERN = "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"
FlagString = Annotated[str, StringConstraints(pattern=FLAG_STRING_PATTERN)]
PresetName = Literal[PRESET_NAMES]  # type: ignore[valid-type]
SplitName = Literal[SPLITS]  # type: ignore[valid-type]


class GenerateRequest(BaseModel):
    """The old service's body, unchanged, plus ``seed``, ``preset``, ``split`` and ``includeImage``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    number: Annotated[
        StrictInt | str,
        Field(
            description="The digits to draw: an integer, or a string of digits that keeps leading zeros",
            examples=[42, "007"],
        ),
    ]
    augment: Annotated[
        StrictBool | Literal[0, 1] | FlagString | None,
        Field(
            description="Augment each digit (preset 'mild' unless `preset` says otherwise): true/false, "
            "1/0 or the strings 'true'/'false'/'1'/'0' in any case"
        ),
    ] = None
    spacing_min: Annotated[StrictInt, Field(ge=0, le=MAX_SPACING, description="Smallest gap, pixels")] = (
        DEFAULT_SPACING_RANGE[0]
    )
    spacing_max: Annotated[
        StrictInt, Field(ge=0, le=MAX_SPACING, validate_default=True, description="Largest gap, pixels")
    ] = DEFAULT_SPACING_RANGE[1]
    image_width: Annotated[
        StrictInt | None,
        Field(ge=1, le=MAX_IMAGE_WIDTH, description="Output width in pixels; omitted: the natural width"),
    ] = None
    seed: Annotated[
        StrictInt | None, Field(ge=0, le=MAX_SEED, description="Same seed and fields, same image")
    ] = None
    preset: Annotated[
        PresetName | None,
        Field(description="Augmentation preset; implies augment unless augment is false"),
    ] = None
    split: Annotated[SplitName, Field(description="MNIST split to draw from")] = "train"
    include_image: Annotated[
        StrictBool,
        Field(alias="includeImage", description="false omits generatedImage (the pixels as nested lists)"),
    ] = True

    # mode="before": one clear error per field, instead of one per branch of the union type.
    @field_validator("number", mode="before")
    @classmethod
    def _number_is_digits(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"must be an integer or a string of digits, got {type(value).__name__}")
        parse_number(value)
        return value

    @field_validator("augment", mode="before")
    @classmethod
    def _augment_is_a_flag(cls, value: Any) -> Any:
        if value is not None:
            parse_flag(value, "augment")
        return value

    @field_validator("spacing_max")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("spacing_min")
        if low is not None and value < low:
            raise ValueError(f"must not be less than spacing_min ({low}), got {value}")
        return value

    @field_validator("preset")
    @classmethod
    def _preset_agrees_with_augment(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value not in (None, "none") and _flag(info.data.get("augment")) is False:
            raise ValueError(f"{value!r} contradicts augment false")
        return value

    @property
    def augment_requested(self) -> bool | None:
        """True/False when augment was given; None when it was left out."""
        return _flag(self.augment)

    @property
    def augment_preset(self) -> str | None:
        """The preset to apply, or None for plain digits."""
        if self.preset is not None:
            return None if self.preset == "none" else self.preset
        return DEFAULT_PRESET if self.augment_requested else None

    @property
    def label(self) -> str:
        return parse_number(self.number)


def _flag(value: bool | int | str | None) -> bool | None:
    return None if value is None else parse_flag(value, "augment")


class DigitBoxModel(BaseModel):
    digit: int
    x0: int
    y0: int
    x1: int
    y1: int


class GenerateResponse(BaseModel):
    """The old service's fields (echoed as sent) plus where the image is stored and how it was made."""

    taskId: str
    number: int | str
    augment: bool | int | str | None
    spacing_min: int
    spacing_max: int
    image_width: int
    generatedImage: list[list[float]] | None = Field(
        default=None, description="The image as rows of floats in [0, 1]; omitted when includeImage is false"
    )
    label: str
    preset: str
    seed: int
    split: str
    boxes: list[DigitBoxModel]
    imageUrl: str = Field(description="Presigned GET URL of the PNG")
    expiresIn: int = Field(description="Seconds the URL stays valid")
    bucket: str
    key: str
    metadataKey: str
    createdAt: str


class TaskResponse(BaseModel):
    """A stored task: its metadata.json and a fresh presigned URL."""

    taskId: str
    imageUrl: str
    expiresIn: int
    bucket: str
    key: str
    metadata: dict[str, Any]


class MnistStatus(BaseModel):
    loaded: bool
    digits: int
    sha256: str | None = Field(
        default=None,
        description="sha256 of the data's content (images and labels as IDX files, train then test); "
        "null when not loaded",
    )
    canonical: bool = Field(
        default=False, description="true when the content is the canonical MNIST (hng data fetch checks it)"
    )


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    Status: str = Field(description="'Running', for the old service's clients")
    version: str
    mnist: MnistStatus


class DatasetStarted(BaseModel):
    """POST /datasets' answer: the job started; poll statusUrl."""

    datasetId: str
    status: Literal["RUNNING"]
    statusUrl: str
    shardsTotal: int
    imagesTotal: int
    prefix: str = Field(description="Where the dataset is written: s3://bucket/datasets/{datasetId}/")


class DatasetShard(BaseModel):
    index: int
    key: str
    images: int
    sha256: str
    url: str | None = Field(default=None, description="Presigned GET URL (absent for imagefolder folders)")


class DatasetStatus(BaseModel):
    """GET /datasets/{datasetId}: the job's state, its progress and, once it succeeded, its results."""

    datasetId: str
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "ABORTED"]
    shardsDone: int
    shardsTotal: int
    imagesDone: int
    imagesTotal: int
    startedAt: str | None = None
    stoppedAt: str | None = None
    prefix: str
    runs: int = Field(description="How many times the job was started (POST /datasets/{datasetId} restarts)")
    error: str | None = None
    cause: str | None = None
    manifestUrl: str | None = None
    expiresIn: int | None = None
    missingShards: list[int] | None = Field(
        default=None, description="Shards the tolerated failures left out"
    )
    shards: list[DatasetShard] | None = None


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ErrorResponse(BaseModel):
    statusCode: int
    message: str
    errors: list[FieldError] | None = None
    requestId: str | None = None
