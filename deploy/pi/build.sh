#!/usr/bin/env bash
# Cross-builds the dock's programs (dockd, dockctl, recsim) for Raspberry Pi
# boards: linux/arm64 (Pi 4/5 with a 64-bit OS, the target) and linux/arm v7
# (32-bit OS; the buffer is capped there because badger maps its value log).
# Pure Go: CGO_ENABLED=0, no cross toolchain needed. Output: ./dist/<arch>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
for target in arm64 armv7; do
  case $target in
    arm64) export GOARCH=arm64; unset GOARM ;;
    armv7) export GOARCH=arm GOARM=7 ;;
  esac
  out=dist/$target
  mkdir -p "$out"
  for cmd in dockd dockctl recsim; do
    [ -d "cmd/$cmd" ] || continue
    CGO_ENABLED=0 GOOS=linux go build -trimpath -o "$out/$cmd" "./cmd/$cmd"
  done
  echo "built $out: $(ls "$out" | tr '\n' ' ')"
done
