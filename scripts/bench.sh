#!/usr/bin/env bash
# Runs the benchmarks of issue 8 and writes docs/BENCHMARKS.md: every figure beside the baseline
# that bounds it, measured in the same run on this machine. Not part of the tests (it takes long
# and its numbers depend on the machine). KLUIS_BENCH_RECORDS overrides the large audit log size.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

kluis_install_deps
extra=()
for pkg in hyperfine pass gnupg keepassxc time; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || extra+=("$pkg")
done
if [ ${#extra[@]} -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${extra[@]}"
fi
kluis_build kluis_bench kluisd kluis

BIN="$PWD/build/bin"
WORK="$(mktemp -d /tmp/kluis-bench-XXXXXX)"
trap 'pkill -P $$ kluisd 2>/dev/null || true; rm -rf "$WORK"' EXIT
OUT="$WORK/report.md"
RECORDS_LARGE="${KLUIS_BENCH_RECORDS:-1000000}"

section() { printf '\n## %s\n\n' "$1" >> "$OUT"; }

serve() {  # serve DATA PASSFILE PORTFILE: starts kluisd in the background, waits for its port
  rm -f "$3"
  "$BIN/kluisd" serve --data-dir "$1" --passphrase-file "$2" --listen 127.0.0.1:0 --port-file "$3" 2>>"$WORK/kluisd.log" &
  SERVER=$!
  for _ in $(seq 1 600); do [ -s "$3" ] && break; sleep 0.05; done
  ADDRESS="127.0.0.1:$(cat "$3")"
}

stop() { kill -TERM "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }

enroll() {  # enroll DATA USER CODE PROFILE
  "$BIN/kluis" enroll --server "$ADDRESS" --ca-cert "$1/ca.pem" --user "$2" --code "$3" --profile "$4" >/dev/null
}

{
  echo "# Benchmarks"
  echo
  echo "Written by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d): $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)),"
  echo "$(free -g | awk '/^Mem:/ {print $2}') GiB memory, Debian $(cat /etc/debian_version). Medians with (min–max) over the"
  echo "repeated runs. Every figure stands beside the baseline that bounds it, measured in the same run."
} > "$OUT"

section "1–3. Releases, group commit and TOTP codes (kluis_bench release)"
echo "Audited releases over mutual TLS on 127.0.0.1 (authenticate, decide, durable audit commit, open, reply) from 1, 8 and 32 clients, closed loop; beside them a bare echo service on the same gRPC build, TLS set-up and threading, and fsync'd single-row SQLCipher commits; and an open-loop run at a fixed arrival rate, releases and echo calls at the same rate." >> "$OUT"
echo >> "$OUT"
"$BIN/kluis_bench" release --seconds 5 --repeat 3 >> "$OUT"

section "2b. Group commit on a disk whose flushes cost milliseconds (kluis_bench release --flush-ms)"
echo "This machine's virtual disk acknowledges a flush in ~0.17 ms and has no device-mapper for a slower one, so here every flush waits D ms longer before the real fdatasync (bench/slow_flush_vfs.h, a VFS of the bench alone). The same vault, pages and WAL; only the flush is slower." >> "$OUT"
for delay in 1 2 5; do
  printf '\n### every flush +%s ms\n\n' "$delay" >> "$OUT"
  "$BIN/kluis_bench" release --flush-ms "$delay" --seconds 5 --repeat 3 >> "$OUT"
done

section "3b. Releases beside custody reports and full audit exports (kluis_bench readers)"
echo "Release latency at 32 clients alone, beside a regisseur's custody reports and an auditor's full audit exports, and the same with every read on the write connection (as before the read pool; issue 18)." >> "$OUT"
echo >> "$OUT"
"$BIN/kluis_bench" readers --seconds 5 --repeat 3 --records 100000 >> "$OUT"

section "3c. A national vault (kluis_bench scale)"
echo "A vault generated straight into the store at 5,000 to 50,000 accounts (10 units, 250 teams, a user per ten accounts, 20 audit records per account: a million at 50,000), served by the real kluisd: its start-up beside the Argon2id unseal alone, its memory at rest, a unit's custody report, the full account list, due and a regisseur's inbox walked page by page over gRPC (the best of three), and at the largest size releases at 32 clients alone and beside continuous custody reports and full audit exports (issue 18)." >> "$OUT"
echo >> "$OUT"
"$BIN/kluis_bench" scale --seconds 5 >> "$OUT"

section "6. Kabinetswissel of 1,000 accounts (kluis_bench kabinetswissel)"
for _ in 1 2 3; do "$BIN/kluis_bench" kabinetswissel --accounts 1000 | sed 's/^/- /' >> "$OUT"; done

section "7. Cold start"
"$BIN/kluis_bench" argon2 | sed 's/^/- /' >> "$OUT"
COLD="$WORK/cold"
printf 'cold start passphrase\n' > "$WORK/cold.pass"
chmod 600 "$WORK/cold.pass"
code=$("$BIN/kluisd" init --data-dir "$COLD" --passphrase-file "$WORK/cold.pass" --admin operator --listen 127.0.0.1:0 |
  awk '/^enrollment code:/ {print $3}')
serve "$COLD" "$WORK/cold.pass" "$WORK/cold.port"
enroll "$COLD" operator "$code" "$WORK/p-operator"
stop
for _ in 1 2 3; do
  start=$(date +%s%N)
  serve "$COLD" "$WORK/cold.pass" "$WORK/cold.port"
  echo "$ADDRESS" > "$WORK/p-operator/server"
  until "$BIN/kluis" --profile "$WORK/p-operator" whoami >/dev/null 2>&1; do sleep 0.01; done
  echo "- kluisd serve to the first answered call: $(( ($(date +%s%N) - start) / 1000000 )) ms" >> "$OUT"
  stop
done

section "4. CLI round trip: kluis get beside pass show and keepassxc-cli show"
serve "$COLD" "$WORK/cold.pass" "$WORK/cold.port"
echo "$ADDRESS" > "$WORK/p-operator/server"
K() { "$BIN/kluis" --profile "$WORK/p-$1" "${@:2}"; }
K operator unit add bench >/dev/null
K operator team add bench team >/dev/null
K operator account add x/Bench --team bench/team --kind politie-alleen >/dev/null
code=$(K operator user add robin --name Robin | awk '/^enrollment code:/ {print $3}')
enroll "$COLD" robin "$code" "$WORK/p-robin"
K operator role grant robin beheerder --account x/Bench >/dev/null
printf 'Bench-wachtwoord-2026!\n' | K robin secret set x/Bench >/dev/null
export GNUPGHOME="$WORK/gnupg" PASSWORD_STORE_DIR="$WORK/pass"
mkdir -m 700 -p "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key bench@kluis.example default default never 2>/dev/null
pass init bench@kluis.example >/dev/null
printf 'Bench-wachtwoord-2026!\n' | pass insert -m bench/x >/dev/null
keepassxc-cli db-create --set-key-file "$WORK/kp.key" "$WORK/kp.kdbx" >/dev/null 2>&1
keepassxc-cli add --no-password -k "$WORK/kp.key" -u robin -p "$WORK/kp.kdbx" bench <<< 'Bench-wachtwoord-2026!' >/dev/null 2>&1 || true
hyperfine --warmup 3 --runs 30 --export-markdown "$WORK/cli.md" \
  "$BIN/kluis --profile $WORK/p-robin get x/Bench --field password" \
  "pass show bench/x" \
  "keepassxc-cli show --no-password -k $WORK/kp.key -s -a Password $WORK/kp.kdbx bench" >/dev/null 2>&1 || true
cat "$WORK/cli.md" >> "$OUT" 2>/dev/null || echo "(hyperfine failed)" >> "$OUT"
stop

section "5. Audit at scale: export and verify"
echo "| records | export jsonl s | export csv s | client peak RSS MiB | server peak RSS MiB | verify s | verify peak RSS MiB | b2sum s (same file) | file MiB |" >> "$OUT"
echo "|---|---|---|---|---|---|---|---|---|" >> "$OUT"
for records in 100000 "$RECORDS_LARGE"; do
  LOG="$WORK/log-$records"
  "$BIN/kluis_bench" make-log "$LOG" "$records" >/dev/null
  serve "$LOG" "$LOG.pass" "$WORK/log.port"
  enroll "$LOG" operator "$(cat "$LOG/operator.code")" "$WORK/l-operator-$records"
  code=$("$BIN/kluis" --profile "$WORK/l-operator-$records" user add auditor --name Auditor | awk '/^enrollment code:/ {print $3}')
  enroll "$LOG" auditor "$code" "$WORK/l-auditor-$records"
  "$BIN/kluis" --profile "$WORK/l-operator-$records" role grant auditor auditor --global >/dev/null
  "$BIN/kluis" --profile "$WORK/l-auditor-$records" audit pubkey > "$WORK/pub-$records"
  # Three JSONL exports: the median time and the median peak RSS (gRPC's flow-control window
  # grows with the transfer's pace, so one reading of the client's memory can be off by 2x).
  for run in 1 2 3; do
    /usr/bin/time -f '%e %M' -o "$WORK/t-export-$run" "$BIN/kluis" --profile "$WORK/l-auditor-$records" audit export --format jsonl --out "$WORK/e-$records.jsonl" >/dev/null
  done
  export_s=$(cat "$WORK"/t-export-? | awk '{print $1}' | sort -n | sed -n 2p)
  export_kb=$(cat "$WORK"/t-export-? | awk '{print $2}' | sort -n | sed -n 2p)
  /usr/bin/time -f '%e %M' -o "$WORK/t-csv" "$BIN/kluis" --profile "$WORK/l-auditor-$records" audit export --format csv --out "$WORK/e-$records.csv" >/dev/null
  server_rss=$(awk '/^VmHWM:/ {printf "%.0f", $2/1024}' "/proc/$SERVER/status")
  stop
  /usr/bin/time -f '%e %M' -o "$WORK/t-verify" "$BIN/kluis" audit verify "$WORK/e-$records.jsonl" --public-key "$WORK/pub-$records" >/dev/null
  b2=$( { /usr/bin/time -f '%e' b2sum "$WORK/e-$records.jsonl" >/dev/null; } 2>&1 )
  read -r csv_s _ < "$WORK/t-csv"
  read -r verify_s verify_kb < "$WORK/t-verify"
  size=$(du -m "$WORK/e-$records.jsonl" | cut -f1)
  echo "| $records | $export_s | $csv_s | $((export_kb / 1024)) | $server_rss | $verify_s | $((verify_kb / 1024)) | $b2 | $size |" >> "$OUT"
  rm -rf "$LOG" "$WORK"/e-"$records".*
done

# What the figures mean, the targets they miss and why: kept by hand in bench/ANALYSIS.md.
{ cat "$OUT"; echo; cat bench/ANALYSIS.md; } > docs/BENCHMARKS.md
echo "wrote docs/BENCHMARKS.md"
