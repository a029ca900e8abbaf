#!/bin/sh
# Creates or upgrades Temporal's two PostgreSQL databases with the schema embedded in this
# admin-tools image, so the server that starts next finds the schema of its own version.
#
# Safe on every start: create-database skips a database that exists, setup-schema keeps a
# newer version, update-schema applies only the versions that are missing. Any other
# failure stops the script (set -e) and the stack with it.
set -eu

: "${SQL_HOST:?set SQL_HOST to the PostgreSQL host}"
: "${SQL_PORT:?set SQL_PORT to the PostgreSQL port}"
: "${SQL_USER:?set SQL_USER}"
: "${SQL_PASSWORD:?set SQL_PASSWORD}"
: "${SQL_PLUGIN:?set SQL_PLUGIN (postgres12)}"
ATTEMPTS=${SETUP_ATTEMPTS:-30}
PAUSE=${SETUP_PAUSE_SECONDS:-2}

attempt=1
until nc -z -w 5 "$SQL_HOST" "$SQL_PORT"; do
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "temporal-schema: PostgreSQL at $SQL_HOST:$SQL_PORT did not answer after $ATTEMPTS attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep "$PAUSE"
done

# database name, embedded schema name
for pair in temporal:postgresql/v12/temporal temporal_visibility:postgresql/v12/visibility; do
  database=${pair%%:*}
  schema=${pair#*:}
  echo "temporal-schema: $database <- $schema"
  temporal-sql-tool --db "$database" create-database
  temporal-sql-tool --db "$database" setup-schema -v 0.0
  temporal-sql-tool --db "$database" update-schema --schema-name "$schema"
done
echo "temporal-schema: done"
