"""The memory core: models, ports and use cases. Imports neither the API nor any adapter."""
