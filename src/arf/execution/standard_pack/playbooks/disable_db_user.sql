-- Run by disable_db_user.yml (recreate_db_user's rollback): psql variable `role`. The role's
-- login is disabled again; the role is never dropped (what it owns would go with it). A role
-- that does not exist is not an error; a privileged role is refused.
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS present,
       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role'
               AND (rolsuper OR rolcreaterole OR rolreplication OR rolbypassrls)) AS privileged
\gset
\if :privileged
DO $$ BEGIN RAISE EXCEPTION 'refusing to change a privileged role'; END $$;
\elif :present
ALTER ROLE :"role" NOLOGIN;
\endif
