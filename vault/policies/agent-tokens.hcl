# Infralogs host registration: writes agent bearer tokens to KV and issues agent certificates.
# For the operator (npm run hosts) or the job that rotates tokens, never for a function.
# Placeholder: {{kv_mount}} (default infralogs-kv).

path "{{kv_mount}}/data/agents/*" {
  capabilities = ["create", "update", "read"]
}
path "{{kv_mount}}/metadata/agents/*" {
  capabilities = ["read", "list", "delete"]
}

# Agent certificates (`hosts add --issue-cert`, the local stack): issue from the PKI role only;
# the CA's key stays in Vault. Placeholders: {{pki_mount}}, {{agent_cert_role}}.
path "{{pki_mount}}/issue/{{agent_cert_role}}" {
  capabilities = ["update"]
}
path "{{pki_mount}}/cert/ca" {
  capabilities = ["read"]
}
