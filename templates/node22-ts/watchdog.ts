/**
 * The of-watchdog settings the image sets in its Dockerfile (`ENV`), for the local gateway, which
 * plays the watchdog's part when stack.yml leaves one unset. A test keeps the two in step.
 */
export const WATCHDOG_DEFAULTS = {
  exec_timeout: '10s',
  read_timeout: '15s',
  write_timeout: '15s',
  /**
   * After SIGTERM of-watchdog marks itself unhealthy and keeps accepting calls for this long before
   * it stops listening (of-watchdog pkg/watchdog.go `listenUntilShutdown`). Its own default is
   * write_timeout (30m for collect), far past the pod's grace, so the image sets it.
   */
  healthcheck_interval: '5s',
} as const;

/** The wrapper's port inside the image (`upstream_url` of the watchdog). */
export const WRAPPER_PORT = 3000;

/**
 * The drain, from the pod's side. faas-netes CE sets no `terminationGracePeriodSeconds` on function
 * pods and reads no annotation for it (faas-netes pkg/handlers/deploy.go), so the kubelet's default
 * applies: SIGTERM, then SIGKILL 30 s later. of-watchdog forwards SIGTERM to the wrapper at once
 * (executor/http_runner.go) and keeps accepting for `healthcheck_interval`.
 */
export const POD_GRACE_MS = 30_000;

/**
 * The wrapper after SIGTERM: it aborts core's `shutdownSignal` (handlers start no new work and hand
 * back what is in flight), serves calls for as long as the watchdog still accepts them
 * (`healthcheck_interval`), then stops listening, lets the calls in flight finish and runs the
 * shutdown hooks. At DRAIN_DEADLINE_MS it exits whatever is left, before the kubelet's SIGKILL.
 */
export const DRAIN_DEADLINE_MS = 25_000;
