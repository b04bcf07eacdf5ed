#!/usr/bin/env bash
# Kept in the repository so a fresh clone (and CI) can start what the tests need: `cargo xtask services`.
# Starts the database services the test suite talks to, where they are installed but not
# running, and waits until each answers. Idempotent: a running service is left alone.
#   PostgreSQL  127.0.0.1:5432  user postgres (trust), database test
#   MariaDB     127.0.0.1:3306  user root (empty password), database test
#   Redis       127.0.0.1:6379
# Prints the URLs to export. Exit status 1 if a service that is installed does not come up.
set -u
fail=0

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && { echo "$name: up"; return 0; }; sleep 0.5; done
  echo "$name: did not come up" >&2; fail=1; return 1
}

if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start 2>/dev/null || true
  fi
  wait_for postgresql pg_isready -h 127.0.0.1 -p 5432 &&
    { psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='test'" 2>/dev/null | grep -q 1 ||
      psql -h 127.0.0.1 -U postgres -c "create database test" >/dev/null 2>&1 || true; }
fi

if [ -x /usr/sbin/mariadbd ]; then
  if ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql >/dev/null 2>&1 || true
  fi
  wait_for mariadb mariadb-admin -h 127.0.0.1 -u root ping &&
    mariadb -h 127.0.0.1 -u root -e "create database if not exists test" >/dev/null 2>&1 || true
fi

if command -v redis-server >/dev/null 2>&1; then
  if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
  fi
  wait_for redis redis-cli -h 127.0.0.1 ping
fi

# With --drop-test-databases (cargo xtask ci): drop the schemas and databases that test
# runs create for themselves (tas_, tap_, tsw_, srv_, tad_, auth_bench_), left behind only
# when a run failed or was killed, so they never pile up on a long-lived machine.
if [ "${1:-}" = "--drop-test-databases" ]; then
  if pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    for s in $(psql -h 127.0.0.1 -U postgres test -Atc \
        "select nspname from pg_namespace where nspname ~ '^(tas|tap|tsw|srv|auth_bench)_'" 2>/dev/null); do
      psql -h 127.0.0.1 -U postgres test -qc "drop schema if exists \"$s\" cascade" >/dev/null 2>&1
    done
  fi
  if mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
    for d in $(mariadb -h 127.0.0.1 -u root -N -e \
        "select schema_name from information_schema.schemata where schema_name regexp '^(tad|srv|auth_bench)_'" 2>/dev/null); do
      mariadb -h 127.0.0.1 -u root -e "drop database if exists \`$d\`" >/dev/null 2>&1
    done
  fi
  echo "leftover test schemas and databases dropped"
fi

cat <<URLS
export AUTH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
export AUTH_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test
export AUTH_TEST_REDIS_URL=redis://127.0.0.1:6379
URLS
exit $fail
