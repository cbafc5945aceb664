"""AWS clients: one factory for every boto3 client hng makes (hng.aws.clients)."""
