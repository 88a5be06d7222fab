"""Chatchat: a local knowledge-base assistant in one process."""

import os

__version__ = "0.1.0"

# Every library we use phones home unless told not to; the user has to opt in, not out.
# These must be set before gradio, unstructured or huggingface_hub are imported.
_TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "true",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
for _name, _value in _TELEMETRY_OFF.items():
    os.environ.setdefault(_name, _value)
