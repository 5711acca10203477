"""The arq ML-engine worker."""
