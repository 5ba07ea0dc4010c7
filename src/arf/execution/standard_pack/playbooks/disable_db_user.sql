-- Run by disable_db_user.yml (recreate_db_user's rollback): psql variable `role`. The role's
-- login is disabled again; the role is never dropped (what it owns would go with it). A role
-- that does not exist is not an error; a privileged role is refused.
\ir role_state.sql
\if :present
ALTER ROLE :"role" NOLOGIN;
\endif
