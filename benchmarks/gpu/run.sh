#!/usr/bin/env bash
# On a lent NVIDIA machine (JAX, no TensorFlow, no network), with .gpu-carry/ from prepare.sh:
#   1. the five reference solutions, full runs, graded together on the GPU (--jobs-per-gpu 8);
#   2. benchmarks/run.py on the JAX backend: overhead, data load, 8 jobs serial vs packed.
# Writes env.txt, references.txt, scores.csv, bench.txt to $OUT (the device tool's folder).
# SMOKE=1 checks the script itself on a CPU machine: quick mode, 2 packed jobs.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/keras-grader-gpu}
mkdir -p "$OUT"
if ! python3 -c "import keras" 2>/dev/null; then
  # into the interpreter's own site-packages: the sandboxed children get a PYTHONPATH of the grader's checkout only
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .gpu-carry/whl/*.whl || exit 1
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD KERAS_BACKEND=jax PYTHONUNBUFFERED=1
export KERAS_GRADER_CACHE=/tmp/keras-grader-cache
mkdir -p "$KERAS_GRADER_CACHE" && tar -C "$KERAS_GRADER_CACHE" -xJf .gpu-carry/cache.tar.xz || exit 1
quick=(); packed=8
[ "${SMOKE:-0}" = 1 ] && quick=(--quick) && packed=2
{ nvidia-smi -L || echo "no nvidia-smi"; nproc; python3 -c "import jax, keras, sys; print(sys.version.split()[0], \
  'jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"; } > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
# The device image has no TensorFlow (its wheel is far over what a device call can carry), and the references import
# only keras. `grade` refuses a machine that lacks a course library (a student importing it would be failed for the
# machine's fault); this benchmark grades our own references only, so it drops that one module from the check, here
# and nowhere else. A machine where no sandbox can start grades them without isolation (our own code), and says so.
isolation=$(python3 -c "from grader.run.host import sandbox; print(sandbox.detect())" 2>&1 | tail -1)
echo "isolation: $isolation" | tee -a "$OUT/env.txt"
nosandbox=(); [ "$isolation" = none ] && nosandbox=(--no-sandbox)
grade() {
  python3 -c "import importlib.util, sys
from grader import environment
if importlib.util.find_spec('tensorflow') is None:
    environment.COURSE_MODULES.pop('tensorflow'); print('tensorflow absent: not required for this run')
from grader.cli import main
sys.exit(main(sys.argv[1:]))" "$@"
}
class=$(mktemp -d)/class
for ex in abc_skin noisynote mnist_dense sparse_cce fashion_mnist; do
  mkdir -p "$class/reference" && cp "solutions/$ex/solution.py" "$class/reference/$ex.py"
done
start=$(date +%s)
grade all "$class" "${nosandbox[@]}" --backend jax --jobs-per-gpu 8 --seed 1 --lang en --out "$OUT/grading" \
  "${quick[@]}" 2>&1 | tee "$OUT/references.txt"
echo "references: $(( $(date +%s) - start )) s wall for 5 jobs" | tee -a "$OUT/references.txt"
cp "$OUT/grading/reports/scores.csv" "$OUT/scores.csv"
rm -rf "$OUT/grading"
python3 benchmarks/run.py --backend jax --repeat 3 --packed "$packed" 2>&1 | grep -v "^W0000\|^I0000" | tee "$OUT/bench.txt"
