#!/bin/sh
# Creates the namespace Pit runs in and registers the search attributes Pit workflows set
# (pit/infra/temporal/search_attributes.py; tests/unit/test_compose.py keeps the two lists
# equal).
#
# Idempotent: an existing namespace is kept, an attribute that exists with the same type is
# left alone. Loud: an attribute that exists with another type, or a server that never
# answers, ends the script with exit 1, and the workers that wait for it never start.
set -eu

: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS to host:port}"
: "${NAMESPACE:?set NAMESPACE}"
RETENTION=${NAMESPACE_RETENTION:-72h}
ATTEMPTS=${SETUP_ATTEMPTS:-60}
PAUSE=${SETUP_PAUSE_SECONDS:-2}

fail() {
  echo "temporal-setup: $*" >&2
  exit 1
}

attempt=1
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  [ "$attempt" -lt "$ATTEMPTS" ] || fail "Temporal at $TEMPORAL_ADDRESS not healthy after $ATTEMPTS attempts"
  attempt=$((attempt + 1))
  sleep "$PAUSE"
done

attempt=1
until temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; do
  # a create that loses a race with another setup run fails; the next describe finds it
  if output=$(temporal operator namespace create --address "$TEMPORAL_ADDRESS" \
    --namespace "$NAMESPACE" --retention "$RETENTION" 2>&1); then
    echo "temporal-setup: created namespace $NAMESPACE (retention $RETENTION)"
  fi
  [ "$attempt" -lt "$ATTEMPTS" ] || fail "namespace $NAMESPACE: ${output:-not found}"
  attempt=$((attempt + 1))
  sleep "$PAUSE"
done

register() {
  temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" \
    --name PitKind --type Keyword \
    --name PitDag --type Keyword \
    --name PitNodes --type Int \
    --name PitProgress --type Double
}

attempt=1
until output=$(register 2>&1); do
  case $output in
    *"different type"*) fail "$output" ;;  # retrying cannot fix a wrong type
  esac
  # a namespace just created may not have reached every server cache yet
  [ "$attempt" -lt "$ATTEMPTS" ] || fail "search attributes: $output"
  attempt=$((attempt + 1))
  sleep "$PAUSE"
done
echo "temporal-setup: namespace $NAMESPACE has the Pit search attributes"
