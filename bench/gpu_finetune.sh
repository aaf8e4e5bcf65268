#!/usr/bin/env bash
# The GPU rows of docs/quality.md: fine-tune on a GPU machine, then pack the models for the CPU machines.
#   bench/gpu_finetune.sh CATALOG.csv IMAGES_ROOT OUT_DIR
# CATALOG.csv: grocery_store's train, val and iconic images with columns id, image, instance_id, split, domain
# (made from the dataset's manifest.csv). On the CPU machine afterwards, for each model:
#   lookalike import-model OUT_DIR/NAME.model.json -w WS && lookalike index --model NAME -w WS
set -euo pipefail
catalog=$1 root=$2 out=$3
ws=${WS:-gpu-ws}
L="python3 -m lookalike"
$L ingest "$catalog" --images-root "$root" --image-column image -w "$ws"
common=(-w "$ws" --labels instance_id --train split=train --val split=val --join domain=iconic --epochs 30
        --patience 6 --batch-size 128 --m-per-class 4 --lr 1e-3 --workers 14 --seed 0)
run() { local t0; t0=$(date +%s); $L train metric "$@" "${common[@]}"; echo "$2 wall seconds: $(( $(date +%s) - t0 ))"; }
run --name grocery-full-gpu --mode full --base efficientnet_lite2 --backbone-lr 2e-4
run --name grocery-last3-gpu --mode last --stages 3 --base efficientnet_lite2 --backbone-lr 5e-4
run --name grocery-mbv2-gpu --mode full --base mobilenet_v2 --backbone-lr 2e-4
for m in grocery-full-gpu grocery-last3-gpu grocery-mbv2-gpu; do $L pack-model $m "$out" -w "$ws"; done
