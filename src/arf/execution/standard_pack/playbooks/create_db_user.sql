-- Run by create_db_user.yml: psql variable `role` (checked against a pattern before) and the
-- environment variable ARF_DB_PASSWORD. A missing role is created least privileged: LOGIN,
-- no superuser, no CREATEDB/CREATEROLE, read and write on the public schema's tables. An
-- existing role only gets LOGIN back: its password, attributes and grants are not touched.
-- A privileged role (superuser, CREATEROLE, replication, BYPASSRLS) is refused.
\getenv password ARF_DB_PASSWORD
\ir role_state.sql
\if :present
ALTER ROLE :"role" LOGIN;
\else
CREATE ROLE :"role" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
GRANT CONNECT ON DATABASE :"DBNAME" TO :"role";
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"role";
\endif
