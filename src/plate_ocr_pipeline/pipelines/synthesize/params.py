"""The ``synthesize`` section's schema lives with the renderer; the hook finds it here."""

from plate_ocr_pipeline.synthetic.params import (
    PARAMETER_SCHEMAS,
    SynthesizeParams,
    validate_synthesize,
)

__all__ = ["PARAMETER_SCHEMAS", "SynthesizeParams", "validate_synthesize"]
