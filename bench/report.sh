#!/usr/bin/env bash
# bench/report.sh LATEST.json: the Markdown tables of a bench run.
set -euo pipefail
json=${1:?usage: report.sh LATEST.json}

# Columns: ours, crun, runc when present, in that order.
mapfile -t cols < <(jq -r '[.results[].runtimes | keys[]] | unique as $k
	| ["ocirt-rootless", "crun", "runc"] | map(select(. as $n | $k | index($n))) | .[]' "$json")

jq -r '.meta | "Measured \(.date) on \(.cpu) (\(.cpus) CPUs), kernel \(.kernel), load average \(.loadavg) at the end. " +
	"Runtimes: " + (.versions | to_entries | map("\(.key) (\(.value))") | join(", ")) + "; ocirt-rootless built from \(.ocirt_rev). " +
	"Single-container rows: hyperfine -N, \(.runs) runs in \(.rounds) rounds that alternate the runtimes, \(.warmup) warm-ups per round; the \(.many)-container rows: \(.many_runs) runs through sh. " +
	"Cells: median ±stddev (min–max) in ms or KiB; ratio = median / crun median (below 1 is faster than crun)."' "$json"
echo
{
	printf '| measurement | unit'
	for c in "${cols[@]}"; do printf ' | %s' "$c"; done
	for c in "${cols[@]}"; do [ "$c" = crun ] || printf ' | %s / crun' "$c"; done
	printf ' |\n|---|---'
	for c in "${cols[@]}"; do printf '|---:'; done
	for c in "${cols[@]}"; do [ "$c" = crun ] || printf '|---:'; done
	printf '|\n'
} | if [[ " ${cols[*]} " == *" crun "* ]]; then cat; else sed 's/ \/ crun//g'; fi

fmt='def f: if . == null then "–" elif . >= 100 then (. + 0.5 | floor | tostring)
	else (. * 100 + 0.5 | floor | tostring | if length < 3 then ("000" + .)[-3:] else . end
	      | .[:-2] + "." + .[-2:]) end;'
jq -r --argjson cols "$(printf '%s\n' "${cols[@]}" | jq -R . | jq -sc .)" "$fmt"'
	.results[] as $r
	| [$r.what, $r.unit]
	  + ($cols | map(. as $c | $r.runtimes[$c] |
		if . == null then "–"
		elif $r.unit == "KiB" then "\(.median | f) (\(.min | f)–\(.max | f))"
		else "\(.median | f) ±\(.stddev | f) (\(.min | f)–\(.max | f))" end))
	  + ($cols | map(select(. != "crun")) | map(. as $c |
		if $r.ratio_to_crun == null or $r.ratio_to_crun[$c] == null then (if $cols | index("crun") then "–" else empty end)
		else "×\($r.ratio_to_crun[$c] | f)" end))
	| "| " + join(" | ") + " |"' "$json"

echo
echo "| binary | size (bytes) | stripped | \`ldd\` libraries | .so mapped by a live \`run\` | files mapped |"
echo "|---|---:|---:|---|---|---:|"
jq -r '.binaries | to_entries[] | "| \(.key) | \(.value.size) | \(.value.stripped) | \(.value.ldd | length): \(.value.ldd | join(", ")) | \(.value.mapped | length): \(.value.mapped | join(", ")) | \(.value.mapped_files) |"' "$json"

if [ "$(jq '.notes | length' "$json")" -gt 0 ]; then
	echo
	jq -r '.notes[] | "- " + .' "$json"
fi
