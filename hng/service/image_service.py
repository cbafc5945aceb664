"""The generation service behind the API: validate, generate, store, presign.

One ``GenerationService`` per process (per Lambda container): it holds the loaded MNIST data, the
cached augmentation pipelines and the S3 client, so that nothing is loaded per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hng import __version__
from hng.core.encoding import (
    DEFAULT_JPEG_QUALITY,
    MEDIA_TYPES,
    SUFFIXES,
    jpeg_quality_for,
    parse_jpeg_quality,
)
from hng.core.generation import Generator
from hng.core.ids import new_task_id
from hng.errors import Unavailable
from hng.mnist.load import MnistData, RetryingLoader, load_mnist
from hng.mnist.locate import configured_source
from hng.service.models import (
    DigitBoxModel,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    MnistStatus,
    TaskResponse,
)
from hng.service.task_store import DEFAULT_URL_EXPIRY, TaskStore, check_url_expiry
from hng.settings import load_settings

# generatedImage's values: k/255 rounded to 4 decimals, as float64 so that each serializes as its
# shortest decimal ("0.0863", not float32's "0.08630000054836273"): 4 places keep all 256 levels apart.
PIXEL_VALUES = np.round(np.arange(256) / 255, 4)


def pixel_rows(image: np.ndarray) -> list[list[float]]:
    """A uint8 image as rows of floats in [0, 1], each k/255 rounded to 4 decimals."""
    return PIXEL_VALUES[image].tolist()


class ServiceUnavailable(Unavailable):
    """The service cannot generate right now (no MNIST data, no bucket configured)."""


@dataclass(frozen=True)
class ServiceConfig:
    bucket: str | None
    url_expiry: int = DEFAULT_URL_EXPIRY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceConfig:
        settings = load_settings(environ)
        return cls(bucket=settings.bucket, url_expiry=check_url_expiry(settings.url_expiry))


@dataclass(frozen=True)
class GeneratedTask:
    response: GenerateResponse
    image: bytes  # the stored file: PNG, or JPEG with imageEncoding jpeg
    media_type: str


# While the data is not loaded, a request retries the load at most this often: a grant that IAM had not
# yet propagated, or an object replaced at the same key, then heals a warm container.
MNIST_RETRY_SECONDS = 30.0


class GenerationService:
    def __init__(
        self,
        config: ServiceConfig,
        data: MnistData | None,
        store: TaskStore | None = None,
        *,
        loader: Callable[[], MnistData] | None = None,
        data_error: str | None = None,
        data_source: str | None = None,
    ) -> None:
        """`loader`, when the data is None, is retried (at most every MNIST_RETRY_SECONDS) when a request
        needs the data; `data_error` says why it is missing, `data_source` where it was looked for."""
        self.config = config
        self.mnist = RetryingLoader(
            loader, retry_after=MNIST_RETRY_SECONDS, data=data, error=data_error, load_now=False
        )
        self._generator: Generator | None = None
        self._data_source = data_source
        if store is None and config.bucket:
            store = TaskStore(config.bucket)
        self.store = store

    @classmethod
    def from_env(cls) -> GenerationService:
        """Config from the environment; the MNIST data loaded now, or None (reported by health, retried
        later) if it is missing or breaks a rule: a bad data source must not stop the container."""
        config = ServiceConfig.from_env()
        service = cls(config, None, loader=load_mnist, data_source=configured_source())
        service.mnist.load()
        return service

    @property
    def data(self) -> MnistData | None:
        """The loaded data, or None; while None, retries the loader if the last try is old enough."""
        return self.mnist.available()

    @property
    def data_error(self) -> str | None:
        return self.mnist.error

    @property
    def data_source(self) -> str | None:
        data = self.mnist.data
        return data.source if data is not None else self._data_source

    @property
    def generator(self) -> Generator | None:
        data = self.data
        if data is None:
            return None
        if self._generator is None or self._generator.data is not data:
            self._generator = Generator(data)
        return self._generator

    def health(self) -> HealthResponse:
        data = self.data
        loaded = data is not None
        return HealthResponse(
            status="ok" if loaded and self.store is not None else "degraded",
            Status="Running",
            version=__version__,
            mnist=MnistStatus(
                loaded=loaded,
                digits=len(data) if data is not None else 0,
                sha256=data.content_sha256 if data is not None else None,
                canonical=data is not None and data.is_canonical,
                source=self.data_source,
                error=None if loaded else self.data_error,
            ),
        )

    def require_data(self) -> MnistData:
        """The loaded data; ServiceUnavailable saying why it is missing otherwise (a 503)."""
        data = self.data
        if data is None:
            raise ServiceUnavailable(f"the MNIST data is not available: {self._missing_reason()}")
        return data

    def _missing_reason(self) -> str:
        if self.data_error:
            return self.data_error
        return "run `hng data fetch`, or set HNG_MNIST_PATH or HNG_MNIST_S3_URI"

    def generate(self, request: GenerateRequest, group: str = "") -> GeneratedTask:
        generator, store = self._ready()
        started = time.perf_counter()
        result = generator.generate(
            request.label,
            spacing_range=(request.spacing_min, request.spacing_max),
            image_width=request.image_width,
            augment=request.augment_preset,
            seed=request.seed,
            split=request.split,
            fit=request.fit,
            masks=request.include_mask,
            verify_labels=request.verify_labels,
            **self._document_options(request, store),
        )
        task_id = new_task_id()
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        encoding = request.image_encoding
        quality = (
            DEFAULT_JPEG_QUALITY if request.jpeg_quality is None else parse_jpeg_quality(request.jpeg_quality)
        )
        image = result.encode(encoding, jpeg_quality_for(result.seed, quality))
        metadata = {
            "taskId": task_id,
            "createdAt": created_at,
            "request": request.model_dump(by_alias=True, exclude_unset=True),
            **result.metadata(),
            "imageBytes": len(image),
            "generationMs": round((time.perf_counter() - started) * 1000, 3),
        }
        mask_png = result.mask_png() if request.include_mask else None
        stored = store.save(
            task_id, result.label, image, metadata, mask_png, suffix=SUFFIXES[encoding], group=group
        )
        pixels = pixel_rows(result.image) if request.include_image else None
        response = GenerateResponse.model_construct(
            taskId=task_id,
            number=request.number,
            augment=False if request.augment is None else request.augment,
            spacing_min=request.spacing_min,
            spacing_max=request.spacing_max,
            image_width=result.width,
            generatedImage=pixels,
            label=result.label,
            preset=result.augment,
            seed=result.seed,
            split=result.split,
            fit=request.fit,
            height=result.height,
            channels=result.channels,
            style=request.style,
            boxes=[DigitBoxModel.model_construct(None, **box.to_dict()) for box in result.boxes],
            imageUrl=store.presign(stored.key, self.config.url_expiry),
            expiresIn=self.config.url_expiry,
            bucket=stored.bucket,
            key=stored.key,
            metadataKey=stored.metadata_key,
            createdAt=created_at,
        )
        if stored.mask_key is not None:
            response.maskUrl = store.presign(stored.mask_key, self.config.url_expiry)
            response.maskKey = stored.mask_key
        return GeneratedTask(response=response, image=image, media_type=MEDIA_TYPES[encoding])

    @staticmethod
    def _document_options(request: GenerateRequest, store: TaskStore) -> dict[str, Any]:
        """The request's document options, its background prefix as the s3:// URI of this bucket."""
        options = request.document_options
        if request.background is not None:
            options["background"] = f"s3://{store.bucket}/{request.background}"
        return options

    def describe(self, task_id: str) -> TaskResponse:
        store = self._store()
        metadata = store.load_metadata(task_id)
        key = metadata["key"]
        mask = metadata.get("maskKey")
        return TaskResponse(
            taskId=task_id,
            imageUrl=store.presign(key, self.config.url_expiry),
            maskUrl=store.presign(mask, self.config.url_expiry) if isinstance(mask, str) else None,
            expiresIn=self.config.url_expiry,
            bucket=store.bucket,
            key=key,
            metadata=metadata,
        )

    def read_image(self, key: str) -> bytes:
        """The bytes of an image this service stored under ``key``."""
        return self._store().read_object(key)

    def _store(self) -> TaskStore:
        if self.store is None:
            raise ServiceUnavailable("no output bucket is configured (set HNG_BUCKET)")
        return self.store

    def _ready(self) -> tuple[Generator, TaskStore]:
        store = self._store()
        self.require_data()
        generator = self.generator
        if generator is None:
            raise AssertionError("hng bug: generator is unset (the data is there)")
        return generator, store
