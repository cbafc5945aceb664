"""The dataset state machine's Lambda handlers (statemachines/dataset.asl.json), from the API's image."""
