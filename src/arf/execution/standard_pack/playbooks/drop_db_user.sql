-- Run by drop_db_user.yml: psql variable `role`. A role that is already gone is not an error.
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS present \gset
\if :present
DROP OWNED BY :"role";
DROP ROLE :"role";
\endif
