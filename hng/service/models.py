"""Request and response models of the HTTP API and of direct invocation.

The same models validate API Gateway requests (through Powertools' validation, which also generates the
OpenAPI document from them) and plain events from other AWS services. The rules are hng.core.params' rules,
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
    model_validator,
)

from hng.core.encoding import IMAGE_ENCODINGS, parse_jpeg_quality
from hng.core.params import (
    DEFAULT_PRESET,
    DEFAULT_SPACING_RANGE,
    FITS,
    MAX_IMAGE_WIDTH,
    MAX_SPACING,
    PRESET_NAMES,
    SPLITS,
    parse_flag,
    parse_number,
)
from hng.core.seeding import MAX_SEED
from hng.document.options import (
    BACKGROUNDS_PREFIX,
    DEFAULT_HEIGHT,
    MAX_HEIGHT,
    MIN_HEIGHT,
    STROKES,
    STYLES,
    document_options,
    parse_appearance,
    parse_geometry,
)
from hng.errors import InvalidInput

# The string forms of a flag, for the OpenAPI document: "true"/"false"/"1"/"0" in any case (JSON Schema
# patterns have no case-insensitive flag, hence the character classes).
FLAG_STRING_PATTERN = "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"
FlagString = Annotated[str, StringConstraints(pattern=FLAG_STRING_PATTERN)]
PresetName = Literal[PRESET_NAMES]  # type: ignore[valid-type]
SplitName = Literal[SPLITS]  # type: ignore[valid-type]
StyleName = Literal[STYLES]  # type: ignore[valid-type]
StrokeName = Literal[STROKES]  # type: ignore[valid-type]
EncodingName = Literal[IMAGE_ENCODINGS]  # type: ignore[valid-type]
Range = float | tuple[float, float]
FitName = Literal[FITS]  # type: ignore[valid-type]


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
    fit: Annotated[
        FitName,
        Field(
            description="How the strip meets image_width: stretch resizes it; pad keeps its pixels and "
            "pads with black on the right (squeezing it only when it is wider)"
        ),
    ] = "stretch"
    include_image: Annotated[
        StrictBool,
        Field(alias="includeImage", description="false omits generatedImage (the pixels as nested lists)"),
    ] = True
    include_mask: Annotated[
        StrictBool,
        Field(
            alias="includeMask",
            description="true also stores the per-digit mask PNG beside the image (0 background, k the "
            "k-th digit's pixels) and returns its presigned maskUrl",
        ),
    ] = False
    style: Annotated[
        StyleName,
        Field(
            description="mnist (white on black), ink (dark ink on white), paper (pen on paper, scan and "
            "photo artefacts) or background (ink on your own images: background)"
        ),
    ] = "mnist"
    ink: Annotated[
        str | None,
        Field(
            description="Ink colour: black, blue-black, blue, pens (a mix) or #rrggbb; the style's own if "
            "omitted"
        ),
    ] = None
    background: Annotated[
        str | None,
        Field(
            description=f"style background: a key prefix under {BACKGROUNDS_PREFIX} in the deployment's "
            "bucket holding paper images (PNG or JPEG)",
            examples=[f"{BACKGROUNDS_PREFIX}forms/"],
        ),
    ] = None
    rotate: Annotated[
        Range | None, Field(description="Rotation of the whole number, degrees: x for [-x, x] or [low, high]")
    ] = None
    shear: Annotated[
        Range | None, Field(description="Horizontal shear, degrees: x for [-x, x] or [low, high]")
    ] = None
    perspective: Annotated[
        Range | None, Field(description="Perspective: corners moved by up to this share of the height")
    ] = None
    elastic: Annotated[Range | None, Field(description="Elastic wobble amplitude, pixels at MNIST scale")] = (
        None
    )
    height: Annotated[
        StrictInt,
        Field(ge=MIN_HEIGHT, le=MAX_HEIGHT, description="Image height in pixels; image_width is at it"),
    ] = DEFAULT_HEIGHT
    channels: Annotated[
        Literal[1, 3] | None, Field(description="1 (grey) or 3 (RGB); omitted: 3 for coloured ink, else 1")
    ] = None
    stroke: Annotated[
        StrokeName, Field(description="natural, or uniform: one stroke width for the number's digits")
    ] = "natural"
    image_encoding: Annotated[
        EncodingName, Field(alias="imageEncoding", description="How the stored image is encoded")
    ] = "png"
    jpeg_quality: Annotated[
        StrictInt | tuple[StrictInt, StrictInt] | None,
        Field(alias="jpegQuality", description="JPEG quality 1-100, or [low, high] drawn by the seed"),
    ] = None
    verify_labels: Annotated[
        StrictBool,
        Field(
            alias="verifyLabels",
            description="Read every digit back after augmentation and draw again those not read as their "
            "label (the metadata counts the redraws)",
        ),
    ] = False

    # mode="before": one clear error per field, instead of one per branch of the union type.
    @field_validator("number", mode="before")
    @classmethod
    def _number_is_digits(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"must be an integer or a string of digits, got {type(value).__name__}")
        parse_number(value)
        return value

    @field_validator("rotate", "shear", "perspective", "elastic", mode="before")
    @classmethod
    def _geometry_range(cls, value: Any, info: ValidationInfo) -> Any:
        """One message naming the rule, rather than one per branch of the union type."""
        if value is not None:
            name = str(info.field_name)
            try:
                parse_geometry(name, value)
            except (TypeError, ValueError) as error:
                raise ValueError(str(error).removeprefix(f"{name} ")) from None
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

    @model_validator(mode="after")
    def _document_options_agree(self) -> GenerateRequest:
        """The document options by the library's rules; the background within the allowed prefix."""
        parse_appearance(**self.document_options)
        if self.background is not None and (
            not self.background.startswith(BACKGROUNDS_PREFIX) or ".." in self.background.split("/")
        ):
            raise InvalidInput(
                "background",
                f"background must be a key prefix under {BACKGROUNDS_PREFIX} in this deployment's bucket, "
                f"got {self.background!r:.100}",
            )
        if self.jpeg_quality is not None:
            if self.image_encoding != "jpeg":
                raise InvalidInput("jpegQuality", "jpegQuality applies to imageEncoding jpeg only")
            parse_jpeg_quality(self.jpeg_quality, "jpegQuality")
        return self

    @property
    def document_options(self) -> dict[str, Any]:
        """The document options as ``generate`` takes them (the background as the body gives it)."""
        return document_options(self)

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


# Examples of the answers, in the OpenAPI document (each model's schema and each route's response) and
# checked against their models by tests/handlers/test_docs_page.py.
_TASK = "01K2Z8Q4N6M3T5V7W9X1Y3Z5A7"
_DATASET = "01K2Z9B7C3D5E7F9G1H3J5K7M9"
_BUCKET = "hng-dev-bucket-1x2y3z4w5v6u"
_PRESIGNED = (
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20250807%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20250807T101500Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=5d0e1f"
)
_BOXES = [
    {"digit": 4, "x0": 4, "y0": 4, "x1": 22, "y1": 24},
    {"digit": 2, "x0": 31, "y0": 3, "x1": 56, "y1": 23},
]
GENERATE_EXAMPLE: dict[str, Any] = {
    "taskId": _TASK,
    "number": 42,
    "augment": False,
    "spacing_min": 5,
    "spacing_max": 10,
    "image_width": 60,
    "label": "42",
    "preset": "none",
    "seed": 7,
    "split": "train",
    "fit": "stretch",
    "boxes": _BOXES,
    "imageUrl": f"https://{_BUCKET}.s3.amazonaws.com/tasks/{_TASK}/42.png{_PRESIGNED}",
    "expiresIn": 3600,
    "bucket": _BUCKET,
    "key": f"tasks/{_TASK}/42.png",
    "metadataKey": f"tasks/{_TASK}/metadata.json",
    "createdAt": "2025-08-07T10:15:00.123Z",
}
TASK_EXAMPLE: dict[str, Any] = {
    "taskId": _TASK,
    "imageUrl": GENERATE_EXAMPLE["imageUrl"],
    "expiresIn": 3600,
    "bucket": _BUCKET,
    "key": f"tasks/{_TASK}/42.png",
    "metadata": {
        "taskId": _TASK,
        "createdAt": "2025-08-07T10:15:00.123Z",
        "request": {"number": 42, "image_width": 60, "seed": 7, "includeImage": False},
        "label": "42",
        "width": 60,
        "height": 28,
        "seed": 7,
        "split": "train",
        "augment": "none",
        "spacing_range": [5, 10],
        "gaps": [9],
        "indices": [414, 213],
        "boxes": _BOXES,
        "imageBytes": 719,
        "generationMs": 38.8,
        "bucket": _BUCKET,
        "key": f"tasks/{_TASK}/42.png",
    },
}
HEALTH_EXAMPLE: dict[str, Any] = {
    "status": "ok",
    "Status": "Running",
    "version": "0.1.0",
    "mnist": {
        "loaded": True,
        "digits": 70000,
        "sha256": "b2d8f5bf39174ee5ffeefa97e42d673c35432b411bb5d1f74fbbeddae7f1690a",  # the canonical MNIST
        "canonical": True,
        "source": "/opt/mnist/mnist.npz",
        "error": None,
    },
}
_DATASET_PREFIX = f"s3://{_BUCKET}/datasets/{_DATASET}/"
DATASET_STARTED_EXAMPLE: dict[str, Any] = {
    "datasetId": _DATASET,
    "status": "RUNNING",
    "statusUrl": f"https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev/datasets/{_DATASET}",
    "shardsTotal": 2,
    "imagesTotal": 2000,
    "prefix": _DATASET_PREFIX,
}
_DATASET_URL = f"https://{_BUCKET}.s3.amazonaws.com/datasets/{_DATASET}"
DATASET_STATUS_EXAMPLE: dict[str, Any] = {
    "datasetId": _DATASET,
    "status": "SUCCEEDED",
    "shardsDone": 2,
    "shardsTotal": 2,
    "imagesDone": 2000,
    "imagesTotal": 2000,
    "startedAt": "2025-08-07T10:20:00.000Z",
    "stoppedAt": "2025-08-07T10:21:12.000Z",
    "prefix": _DATASET_PREFIX,
    "runs": 1,
    "manifestUrl": f"{_DATASET_URL}/manifest.json{_PRESIGNED}",
    "contactSheetUrl": f"{_DATASET_URL}/contact_sheet.png{_PRESIGNED}",
    "expiresIn": 3600,
    "missingShards": [],
    "shards": [
        {
            "index": k,
            "key": f"datasets/{_DATASET}/shard-{k:05d}.npz",
            "images": 1000,
            "sha256": digest,
            "url": f"{_DATASET_URL}/shard-{k:05d}.npz{_PRESIGNED}",
        }
        for k, digest in enumerate(
            (
                "9b2c4e6f8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d",
                "4f6a8c0e2b4d6f8a1c3e5a7c9e1b3d5f7a9c1e3b5d7f9b1d3f5a7c9e1b3d5f7a",
            )
        )
    ],
}
DATASET_STOPPED_EXAMPLE: dict[str, Any] = {"datasetId": _DATASET, "status": "ABORTED"}


class DigitBoxModel(BaseModel):
    digit: int
    x0: int
    y0: int
    x1: int
    y1: int


class GenerateResponse(BaseModel):
    """The old service's fields (echoed as sent) plus where the image is stored and how it was made."""

    model_config = ConfigDict(json_schema_extra={"examples": [GENERATE_EXAMPLE]})
    taskId: str
    number: int | str
    augment: bool | int | str | None
    spacing_min: int
    spacing_max: int
    image_width: int
    generatedImage: list[list[float]] | list[list[list[float]]] | None = Field(
        default=None,
        description="The image as rows of floats in [0, 1] (of [r, g, b] triples for RGB); omitted when "
        "includeImage is false",
    )
    label: str
    preset: str
    seed: int
    split: str
    fit: str
    boxes: list[DigitBoxModel]
    height: int = DEFAULT_HEIGHT
    channels: int = 1
    style: str = "mnist"
    imageUrl: str = Field(description="Presigned GET URL of the image (PNG, or JPEG with imageEncoding jpeg)")
    maskUrl: str | None = Field(
        default=None, description="Presigned GET URL of the mask PNG; only when includeMask is true"
    )
    expiresIn: int = Field(description="Seconds the URL stays valid")
    bucket: str
    key: str
    maskKey: str | None = Field(default=None, description="The mask's key; only when includeMask is true")
    metadataKey: str
    createdAt: str


class TaskResponse(BaseModel):
    """A stored task: its metadata.json and a fresh presigned URL."""

    model_config = ConfigDict(json_schema_extra={"examples": [TASK_EXAMPLE]})
    taskId: str
    imageUrl: str
    maskUrl: str | None = Field(
        default=None, description="Presigned GET URL of the mask; null when the task stored none"
    )
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
    source: str | None = Field(
        default=None,
        description="where the data comes from: the s3:// URI of the stack's MnistS3Uri, or a file "
        "(/opt/mnist/mnist.npz in the image); null when no source is configured or found",
    )
    error: str | None = Field(
        default=None,
        description="why the data is not loaded (the source and the rule it breaks); null when loaded",
    )


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    Status: str = Field(description="'Running', for the old service's clients")
    version: str
    mnist: MnistStatus

    model_config = ConfigDict(json_schema_extra={"examples": [HEALTH_EXAMPLE]})


class DatasetStarted(BaseModel):
    """POST /datasets' answer: the job started; poll statusUrl."""

    model_config = ConfigDict(json_schema_extra={"examples": [DATASET_STARTED_EXAMPLE]})
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

    model_config = ConfigDict(json_schema_extra={"examples": [DATASET_STATUS_EXAMPLE]})
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
    contactSheetUrl: str | None = Field(
        default=None, description="Presigned GET URL of contact_sheet.png: sample images with their labels"
    )
    expiresIn: int | None = None
    missingShards: list[int] | None = Field(
        default=None, description="Shards the tolerated failures left out"
    )
    shards: list[DatasetShard] | None = None


class DatasetStopped(BaseModel):
    """DELETE /datasets/{datasetId}: the job's state after the stop (ABORTED, or how it had already ended)."""

    model_config = ConfigDict(json_schema_extra={"examples": [DATASET_STOPPED_EXAMPLE]})

    datasetId: str
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "ABORTED"]


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ErrorResponse(BaseModel):
    statusCode: int
    message: str
    errors: list[FieldError] | None = None
    requestId: str | None = None
