"""The API's back end: request and response models, the generation service, task storage in S3."""
