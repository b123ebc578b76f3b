#!/usr/bin/env bash
# bench/rf_parity.sh [--seeds N] [--predict-rows N] — ntg vs scikit-learn (see rf_parity.py).
exec bash "$(dirname "${BASH_SOURCE[0]}")/run_as_postgres.sh" rf_parity.py "$@"
