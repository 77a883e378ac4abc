# Infralogs writer: ingest, collect and fetch-host (MySQL primary).
# A template: the bootstrap replaces {{db_mount}}, {{kv_mount}} and {{writer_role}} with the
# configured names (defaults: database, infralogs-kv, infralogs-writer) and writes the result as
# policy "infralogs-writer". Roles using it set token_no_default_policy: they get this policy and
# token.hcl, nothing else.

# Lease MySQL credentials of the writer role, and of nothing else.
path "{{db_mount}}/creds/{{writer_role}}" {
  capabilities = ["read"]
}

# Renew and revoke leases of the writer role only (the rotator uses the URL forms).
path "sys/leases/renew/{{db_mount}}/creds/{{writer_role}}/*" {
  capabilities = ["update"]
}
path "sys/leases/revoke/{{db_mount}}/creds/{{writer_role}}/*" {
  capabilities = ["update"]
}

# fetch-host reads each agent's bearer token (KV v2 keeps data under <mount>/data/).
path "{{kv_mount}}/data/agents/*" {
  capabilities = ["read"]
}
