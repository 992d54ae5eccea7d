#!/usr/bin/env bash
# Here (with the registries): put in .gpu-carry/ what the GPU machine lacks, for `run.sh` there.
#   the wheels of Keras and its two missing needs (cp312, manylinux) and the verified data cache (xz, ~36 MB)
# Then, with the device tool: run(command="bash benchmarks/gpu/run.sh", carry=[".gpu-carry"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu-carry/' .git/info/exclude 2>/dev/null || echo '/.gpu-carry/' >> .git/info/exclude
rm -rf .gpu-carry && mkdir -p .gpu-carry/whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .gpu-carry/whl "keras==3.15.1" "namex==0.1.0" "optree==0.20.0"
grade data fetch >/dev/null
cache=$(python3 -c "from grader.config import cache_dir; print(cache_dir())")
tar -C "$cache" -cf - . | xz -T0 -6 > .gpu-carry/cache.tar.xz
du -sh .gpu-carry
