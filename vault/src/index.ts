export * from './bootstrap';
export * from './names';
export * from './policies';
export * from './agent-tokens';
export * from './function-secrets';
export * from './pki';
export { addHost, syncCommand, type HostsContext } from './hosts/commands';
export { readInventory, parseInventory, type InventoryHost } from './hosts/inventory';
export { runHostsCli } from './hosts/cli';
