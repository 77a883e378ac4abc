# Infralogs agent-token rotation: writes new agent bearer tokens to KV. For the operator or the job
# that rotates tokens, never for a function. Placeholder: {{kv_mount}} (default infralogs-kv).

path "{{kv_mount}}/data/agents/*" {
  capabilities = ["create", "update", "read"]
}
path "{{kv_mount}}/metadata/agents/*" {
  capabilities = ["read", "list"]
}
