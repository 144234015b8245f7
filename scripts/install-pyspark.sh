#!/usr/bin/env bash
# Install PySpark into a Python environment for the Spark tests (pytest -m spark), when it is missing.
#
#     scripts/install-pyspark.sh [PYTHON]      # default: python3; the tests pass their own interpreter
#
# Idempotent: does nothing when PYTHON already imports pyspark. The version range is the one Ibis 12
# accepts (its pyspark extra: >=3.5,<4.1). Compiling Ibis expressions for Spark needs only the package;
# a Spark session would also need Java 17. Not a dependency of segmint itself: ~400 MB that `make demo`
# and most users never use.
set -euo pipefail

PYTHON="${1:-python3}"
if "$PYTHON" -c "import pyspark" >/dev/null 2>&1; then
    echo "pyspark already installed: $("$PYTHON" -c 'import pyspark; print(pyspark.__version__)')"
    exit 0
fi
"$PYTHON" -m pip install -q "pyspark>=3.5,<4.1"
"$PYTHON" -c "import pyspark; print('installed pyspark', pyspark.__version__)"
