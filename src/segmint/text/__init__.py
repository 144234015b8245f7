"""Free text, offline: embeddings (:mod:`.embed`), topics (:mod:`.topics`) and masking personal data (:mod:`.mask`)."""
