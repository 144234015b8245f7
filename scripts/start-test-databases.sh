#!/usr/bin/env bash
# Start the local PostgreSQL and MariaDB servers the `db` tests use, if they are not answering.
# Idempotent and quick when both are up. Installs the Debian packages when they are missing
# (needs root and a package mirror). Test settings: PostgreSQL 127.0.0.1:5432, user postgres,
# trust auth, database "test"; MariaDB 127.0.0.1:3306, root with empty password, database "test".
set -euo pipefail

WAIT_SECONDS=${WAIT_SECONDS:-60}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
my_up() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }

wait_for() {  # wait_for NAME CHECK
  local i
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    if "$2"; then return 0; fi
    sleep 0.5
  done
  echo "start-test-databases: $1 did not answer within ${WAIT_SECONDS}s" >&2
  return 1
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "$@"
}

start_postgres() {
  if pg_up; then return 0; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "start-test-databases: installing PostgreSQL" >&2
    apt_install postgresql
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL pg_up
  # Trust auth for local TCP test connections, and the "test" database.
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! $SUDO grep -q "segmint-test" "$hba"; then
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust # segmint-test' "$hba"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
  if ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname = 'test'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -c "create database test" >/dev/null
  fi
}

start_mariadb() {
  if my_up; then return 0; fi
  if [ ! -x /usr/sbin/mariadbd ]; then
    echo "start-test-databases: installing MariaDB" >&2
    apt_install mariadb-server
  fi
  $SUDO mkdir -p /run/mysqld
  $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_for MariaDB my_up
  if ! mariadb --protocol=tcp -h 127.0.0.1 -u root -e "select 1" >/dev/null 2>&1; then
    # A fresh install lets root in by unix socket only: also allow TCP with an empty password.
    $SUDO mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') \
      OR unix_socket; FLUSH PRIVILEGES;"
  fi
  mariadb --protocol=tcp -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS test"
}

start_postgres
start_mariadb
echo "start-test-databases: PostgreSQL and MariaDB are answering"
