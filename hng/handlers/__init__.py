"""The Lambda handlers (AWS Lambda Powertools): the API, the dataset shard worker and the finalizer.

Each parses its event, calls one library function and shapes the answer. ``functions/`` holds only the
entry points template.yaml names, each importing one of these ``lambda_handler``s.
"""
