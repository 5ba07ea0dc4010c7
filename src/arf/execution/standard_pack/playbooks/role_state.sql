-- Included by create_db_user.sql and disable_db_user.sql (psql \ir): sets `present` and
-- `privileged` for the psql variable `role`. A privileged role (superuser, CREATEROLE,
-- replication, BYPASSRLS) is refused here, before either script changes anything.
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS present,
       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role'
               AND (rolsuper OR rolcreaterole OR rolreplication OR rolbypassrls)) AS privileged
\gset
\if :privileged
DO $$ BEGIN RAISE EXCEPTION 'refusing to change a privileged role'; END $$;
\endif
