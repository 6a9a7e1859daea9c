#!/usr/bin/env bash
# Installs what is missing, builds, and serves a demo vault on 127.0.0.1 in the foreground.
# The first run creates the vault under var/ with demo units, users, accounts and enrolled client
# profiles; later runs reuse it. Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

LISTEN="${KLUIS_LISTEN:-127.0.0.1:7443}"
VAR="$PWD/var"
DATA="$VAR/data"
PASSPHRASE="$VAR/passphrase"
PROFILES="$VAR/profiles"
KLUISD="$PWD/build/bin/kluisd"
KLUIS="$PWD/build/bin/kluis"

kluis_install_deps
kluis_build kluisd kluis

as() { local user="$1"; shift; "$KLUIS" --profile "$PROFILES/$user" "$@"; }

enroll() {  # enroll USER CODE
  "$KLUIS" enroll --server "$LISTEN" --ca-cert "$DATA/ca.pem" --user "$1" --code "$2" \
    --profile "$PROFILES/$1" >/dev/null
}

add_user() {  # add_user USER "Full Name"
  local code
  code=$(as operator user add "$1" --name "$2" | awk '/^enrollment code:/ {print $3}')
  enroll "$1" "$code"
}

seed_demo() {
  echo "kluis: creating the demo organisation (seed 000: Eenheid Rotterdam, Basisteam IJsselmonde)"
  as operator unit add rotterdam --name "Eenheid Rotterdam" >/dev/null
  as operator team add rotterdam ijsselmonde --name "Basisteam IJsselmonde" >/dev/null
  as operator account add x/POL_IJsselmonde --team rotterdam/ijsselmonde --kind politie-samen \
    --email basisteam.ijsselmonde@demo.politie.example >/dev/null
  as operator account add x/WA_Lombardijen1 --team rotterdam/ijsselmonde --kind politie-alleen \
    --email wijkagent.lombardijen@demo.politie.example >/dev/null
  add_user robin.peters "Robin Peters"
  add_user sanne.devries "Sanne de Vries"
  add_user teamchef.ijsselmonde "Teamchef IJsselmonde"
  add_user regisseur.rotterdam "Socialmediaregisseur Rotterdam"
  add_user landelijk.regisseur "Landelijk socialmediaregisseur"
  add_user auditor "Auditor Eenheid Rotterdam"
  add_user auditor.landelijk "Auditor (landelijk)"
  as operator role grant robin.peters beheerder --account x/WA_Lombardijen1 >/dev/null
  as operator role grant sanne.devries beheerder --account x/POL_IJsselmonde >/dev/null
  as operator role grant teamchef.ijsselmonde teamchef --team rotterdam/ijsselmonde >/dev/null
  as operator role grant regisseur.rotterdam regisseur --unit rotterdam >/dev/null
  as operator role grant landelijk.regisseur landelijk-regisseur --global >/dev/null
  as operator role grant auditor auditor --unit rotterdam >/dev/null
  as operator role grant auditor.landelijk auditor --global >/dev/null
  # Made-up passwords, stored by each account's beheerder through standard input.
  printf 'Lombardijen-demo-%s\n' "$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')" |
    as robin.peters secret set x/WA_Lombardijen1 >/dev/null
  printf 'IJsselmonde-demo-%s\n' "$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')" |
    as sanne.devries secret set x/POL_IJsselmonde >/dev/null
  # A made-up TOTP key on the wijkagent's account, as the platform would show it when 2FA is set up,
  # and three made-up recovery codes.
  printf 'otpauth://totp/X:WA_Lombardijen1?secret=%s&issuer=X\n' \
    "$(head -c 20 /dev/urandom | base32 | tr -d '=')" | as robin.peters secret set-totp x/WA_Lombardijen1 >/dev/null
  printf 'demo-%s\n' 1111-2222 3333-4444 5555-6666 | as robin.peters secret set-recovery x/WA_Lombardijen1 >/dev/null
  seed_ministry
  touch "$VAR/.demo-seeded"
}

# A ministry for the kabinetswissel (seed 004): two corporate accounts of the minister-president
# and the hybrid account of a made-up minister, Jan Jansen, with his successor waiting.
seed_ministry() {
  echo "kluis: creating the demo ministry (seed 004: Ministerie van Algemene Zaken)"
  as operator unit add az --name "Ministerie van Algemene Zaken" >/dev/null
  as operator team add az communicatie --name "Directie Communicatie" >/dev/null
  as operator account add x/MinPres --team az/communicatie --kind corporate \
    --email minpres@demo.minaz.example >/dev/null
  as operator account add instagram/minpres --team az/communicatie --kind corporate \
    --email minpres@demo.minaz.example >/dev/null
  as operator account add x/JanJansen --team az/communicatie --kind hybrid \
    --email jan.jansen@demo.partij.example >/dev/null
  add_user webcare.az "Webcare Algemene Zaken"
  add_user minister.jansen "Jan Jansen (minister)"
  add_user assistent.jansen "Politiek assistent van Jan Jansen"
  add_user regisseur.az "Socialmediaregisseur Algemene Zaken"
  add_user minister.devries "Minister de Vries (opvolger)"
  for account in x/MinPres instagram/minpres x/JanJansen; do
    as operator role grant webcare.az beheerder --account "$account" >/dev/null
    as operator role grant minister.jansen bewindspersoon --account "$account" >/dev/null
  done
  as operator role grant minister.jansen beheerder --account x/JanJansen >/dev/null
  as operator role grant assistent.jansen politiek-assistent --account x/JanJansen >/dev/null
  as operator role grant regisseur.az regisseur --unit az >/dev/null
  for account in x/MinPres instagram/minpres x/JanJansen; do
    printf 'Demo-%s-%s\n' "${account//\//-}" "$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')" |
      as webcare.az secret set "$account" >/dev/null
  done
  printf 'otpauth://totp/X:JanJansen?secret=%s&issuer=X\n' \
    "$(head -c 20 /dev/urandom | base32 | tr -d '=')" | as minister.jansen secret set-totp x/JanJansen >/dev/null
}

wait_for_port_file() {
  for _ in $(seq 1 100); do
    [ -s "$1" ] && return 0
    sleep 0.1
  done
  echo "kluis: kluisd did not start; see the lines above" >&2
  exit 5
}

if [ ! -f "$DATA/root.sealed" ]; then
  mkdir -p "$VAR" && chmod 700 "$VAR"
  # A random passphrase in a 0600 file: for this demo only. In production the passphrase comes
  # from the operators, not from a file next to the vault (docs/SECURITY.md).
  (umask 077 && head -c 32 /dev/urandom | base64 > "$PASSPHRASE")
  rm -rf "$PROFILES"
  init_out=$("$KLUISD" init --data-dir "$DATA" --passphrase-file "$PASSPHRASE" --admin operator \
    --listen "$LISTEN")
  echo "$init_out" | grep -E "^(vault created|CA fingerprint)"
  admin_code=$(echo "$init_out" | awk '/^enrollment code:/ {print $3}')
  # Serve briefly in the background to enroll the demo users, then serve in the foreground.
  rm -f "$VAR/port"
  "$KLUISD" serve --data-dir "$DATA" --passphrase-file "$PASSPHRASE" --listen "$LISTEN" \
    --port-file "$VAR/port" &
  seed_pid=$!
  trap 'kill $seed_pid 2>/dev/null || true' EXIT
  wait_for_port_file "$VAR/port"
  enroll operator "$admin_code"
  seed_demo
  kill -TERM "$seed_pid"
  wait "$seed_pid" || true
  trap - EXIT
fi

cat <<TXT

Kluis demo vault in var/ (passphrase file var/passphrase is for this demo only), serving on $LISTEN.
Profiles of the demo users are in var/profiles/<user>. Try, in another terminal:

  build/bin/kluis --profile var/profiles/robin.peters get WA_Lombardijen1          # the beheerder: login
  build/bin/kluis --profile var/profiles/robin.peters totp WA_Lombardijen1         # the current 2FA code
  build/bin/kluis --profile var/profiles/sanne.devries get x/POL_IJsselmonde       # the other beheerder
  build/bin/kluis --profile var/profiles/auditor get WA_Lombardijen1               # refused, exit 2

  # The teamchef, at any time, as break-glass: the beheerder and regisseur are told.
  build/bin/kluis --profile var/profiles/teamchef.ijsselmonde emergency WA_Lombardijen1 --reason "Robin ziek, melding nodig"
  build/bin/kluis --profile var/profiles/robin.peters inbox
  build/bin/kluis --profile var/profiles/regisseur.rotterdam due

  # The regisseur, on request: the beheerder (or teamchef) approves, the grant works once.
  build/bin/kluis --profile var/profiles/regisseur.rotterdam request WA_Lombardijen1 --purpose koppelen --reason "koppelen aan de landelijke tool"
  build/bin/kluis --profile var/profiles/robin.peters approve ID
  build/bin/kluis --profile var/profiles/regisseur.rotterdam get WA_Lombardijen1 --request ID

  build/bin/kluis --profile var/profiles/auditor audit list
  build/bin/kluis --profile var/profiles/auditor.landelijk audit pubkey > var/audit.pub
  build/bin/kluis --profile var/profiles/auditor.landelijk audit export --format jsonl --out var/audit.jsonl
  build/bin/kluis audit verify var/audit.jsonl --public-key var/audit.pub
  build/bin/kluis --profile var/profiles/regisseur.rotterdam custody report --unit rotterdam

  # The ministry (unit az): a kabinetswissel, planned by the regisseur, then applied.
  build/bin/kluis --profile var/profiles/regisseur.az kabinetswissel plan --unit az \\
      --successor x/MinPres=minister.devries --successor instagram/minpres=minister.devries \\
      --hybrid x/JanJansen=handback --archive x/MinPres=x/MinPresJansen \\
      --archive instagram/minpres=instagram/minpresjansen --out var/kabinetswissel.json
  build/bin/kluis --profile var/profiles/regisseur.az kabinetswissel apply var/kabinetswissel.json

The release rules are policies/default.textproto: edit it and send SIGHUP to reload.
Stop the server with Ctrl-C.
TXT
exec "$KLUISD" serve --data-dir "$DATA" --passphrase-file "$PASSPHRASE" --listen "$LISTEN" \
  --policy "$PWD/policies/default.textproto"
