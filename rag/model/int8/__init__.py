"""The int8 export of a sentence-transformers encoder, self-contained: the recipe
(``recipe.py``: [CLS]/[SEP] carried apart, SmoothQuant) and the passages it calibrates
on (``calibration.jsonl``). Importing this package costs nothing; ``recipe`` imports
torch and ONNX tooling and is loaded only when an export is made.
"""

RECIPE = 4  # bump when recipe.py changes what the exported model computes
