#!/bin/sh
# Run once by the postgres image when its data directory is created (docker-entrypoint-initdb.d),
# as the superuser: creates the role the service connects as. Not a superuser, creates no roles
# or databases; it owns the service's database, and so (PostgreSQL 15) its public schema, where
# the migrations create everything. Roles are cluster-wide: this is not a migration (the tests'
# throwaway databases would each need the role). Needs APP_DB_PASSWORD; APP_DB_USER defaults
# to credit_app. The test suite runs this script against a throwaway PostgreSQL.
set -eu
: "${APP_DB_PASSWORD:?set APP_DB_PASSWORD}"
APP_DB_USER="${APP_DB_USER:-credit_app}"
DATABASE="${POSTGRES_DB:-credit_deployment}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "$DATABASE" \
  -v app_user="$APP_DB_USER" -v app_password="$APP_DB_PASSWORD" -v database="$DATABASE" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER DATABASE :"database" OWNER TO :"app_user";
-- Nobody else may create objects in the service's schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
