# What every Infralogs login token needs for itself: look itself up, stay alive, and give itself
# back on shutdown. Attached to every AppRole and Kubernetes role next to the role's own policy
# (they set token_no_default_policy, so Vault's default policy is not attached).

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
