"""`decp publish`: the current release's files as resources of a data.gouv.fr dataset (udata API v1)."""
