#!/bin/sh
# The `harness` command. Node parses every certificate in NODE_EXTRA_CA_CERTS when it starts,
# before any JavaScript runs: 0.1 s with a system bundle there, most of `harness --version`.
# The harness needs those only for an HTTPS download, which reads the file itself
# (fetch/download.ts), so the variable is handed over under another name and bin.mjs puts it
# back at once, for every process the harness starts.
if [ -n "${NODE_EXTRA_CA_CERTS-}" ]; then
  HARNESS_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS
  export HARNESS_EXTRA_CA_CERTS
  unset NODE_EXTRA_CA_CERTS
fi
# npm links the command to this file: bin.mjs is beside the file, not the link.
exec node "$(dirname "$(readlink -f "$0")")/bin.mjs" "$@"
